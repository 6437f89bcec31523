/**
 * Confirmed-publish load for the benchmarks: publishers on their own
 * connections, each with a window of unconfirmed messages, timed or counted,
 * with progress every second.
 */
import { MiB, progress, round } from './bench-util.js';
import { LoadPublisher } from './load/publisher.js';
import type { PublishSpec } from './amqp/frames.js';
import { procCpuSeconds, procMemory } from './proc-stats.js';

/** What every publisher sends (cycled), and how long a timed run warms up and measures. */
export interface ConfirmedLoad {
  readonly messages: readonly PublishSpec[];
  readonly warmupSeconds: number;
  readonly rateSeconds: number;
  readonly phaseTimeoutMs: number;
  readonly shortTimeoutMs: number;
}

export interface PublishResult {
  readonly confirmed: number;
  readonly nacked: number;
  readonly seconds: number;
  /** Confirms per second: over the measured window for a timed run, over the whole run for a counted one. */
  readonly rate: number;
  /** Share of one core over the same interval. */
  readonly clientCpuPct: number;
  readonly serverCpuPct: number | undefined;
}

/**
 * Runs `publishers` connections with `window` confirms in flight each,
 * either for WARMUP + RATE seconds (count undefined) or until `count`
 * messages are confirmed. Prints progress every second, with the server's
 * RSS and CPU when its pid is known.
 */
export async function publishLoad(
  load: ConfirmedLoad,
  url: URL,
  label: string,
  publishers: number,
  window: number,
  count: number | undefined,
  serverPid: number | undefined,
): Promise<PublishResult> {
  const { messages, warmupSeconds: WARMUP_SECONDS, rateSeconds: RATE_SECONDS, phaseTimeoutMs: PHASE_TIMEOUT_MS, shortTimeoutMs: SHORT_TIMEOUT_MS } = load;
  const clients = await Promise.all(
    Array.from({ length: publishers }, () => LoadPublisher.open(url, { messages, confirms: true, timestamps: false, timeoutMs: SHORT_TIMEOUT_MS })),
  );
  const settled = (): number => clients.reduce((n, c) => n + c.confirmed + c.nacked, 0);
  const sample = () => ({ t: performance.now(), settled: settled(), cpu: process.cpuUsage(), serverCpu: serverPid === undefined ? undefined : procCpuSeconds(serverPid) });
  const t0 = performance.now();
  let last = sample();
  const ticker = setInterval(() => {
    const now = sample();
    const inFlight = clients.reduce((n, c) => n + c.published - c.confirmed - c.nacked, 0);
    const server =
      serverPid === undefined || now.serverCpu === undefined || last.serverCpu === undefined
        ? ''
        : `  server rss ${round(procMemory(serverPid).rss / MiB)} MiB cpu ${Math.round(((now.serverCpu - last.serverCpu) * 100_000) / (now.t - last.t))}%`;
    const blocked = clients.some((c) => c.blocked) ? '  BLOCKED' : '';
    progress(
      `[${label}] ${round((now.t - t0) / 1000)} s  confirmed ${now.settled}  ${Math.round(((now.settled - last.settled) * 1000) / (now.t - last.t))}/s  in flight ${inFlight}${server}${blocked}`,
    );
    last = now;
  }, 1000);

  const timed = count === undefined;
  let window0 = sample();
  let window1: typeof window0 | undefined;
  const marks = timed
    ? [setTimeout(() => (window0 = sample()), WARMUP_SECONDS * 1000), setTimeout(() => (window1 ??= sample()), (WARMUP_SECONDS + RATE_SECONDS) * 1000)]
    : [];
  // Load goes on a little past the measured window, so a late timer still samples a loaded broker.
  const stopAt = timed ? t0 + (WARMUP_SECONDS + RATE_SECONDS + 0.5) * 1000 : Infinity;
  const share = (i: number): number => (count === undefined ? Infinity : Math.floor(count / publishers) + (i < count % publishers ? 1 : 0));
  try {
    await Promise.all(clients.map((c, i) => c.publish({ count: share(i), stopAt, window }, PHASE_TIMEOUT_MS)));
  } finally {
    clearInterval(ticker);
    marks.forEach(clearTimeout);
    await Promise.all(clients.map((c) => c.close(SHORT_TIMEOUT_MS)));
  }
  window1 ??= sample();
  const seconds = (window1.t - window0.t) / 1000;
  const serverCpu = window1.serverCpu === undefined || window0.serverCpu === undefined ? undefined : window1.serverCpu - window0.serverCpu;
  return {
    confirmed: clients.reduce((n, c) => n + c.confirmed, 0),
    nacked: clients.reduce((n, c) => n + c.nacked, 0),
    seconds,
    rate: (window1.settled - window0.settled) / seconds,
    clientCpuPct: ((window1.cpu.user + window1.cpu.system - window0.cpu.user - window0.cpu.system) / 1e6 / seconds) * 100,
    serverCpuPct: serverCpu === undefined ? undefined : (serverCpu / seconds) * 100,
  };
}

