/**
 * Memory per idle connection: the broker's RSS before and after opening n
 * connections (handshake done, heartbeats negotiated, no channel), each
 * settled for a moment so the numbers are not caught mid-allocation.
 */
import { RawConnection } from '../amqp/raw-connection.js';
import { procCpuSeconds, procMemory } from '../proc-stats.js';
import { sleep } from '../with-timeout.js';

const OPEN_IN_PARALLEL = 50;
const SETTLE_MS = 2000;
/** What clients usually ask for (RabbitMQ proposes 60 s). */
const HEARTBEAT_S = 60;
const KiB = 1024;

export interface IdleConnectionsResult {
  readonly connections: number;
  /** Connections opened per second. */
  readonly rate: number;
  readonly rssPerConnectionKiB?: number;
  readonly brokerCpuUsPerConnection?: number;
  readonly brokerRssMiB?: number;
  readonly brokerRssBeforeMiB?: number;
}

export async function idleConnections(url: URL, n: number, pid: number | undefined, timeoutMs: number): Promise<IdleConnectionsResult> {
  await sleep(SETTLE_MS);
  const rss0 = pid === undefined ? NaN : procMemory(pid).rss;
  const cpu0 = pid === undefined ? NaN : procCpuSeconds(pid);
  const t0 = performance.now();
  const conns: RawConnection[] = [];
  try {
    for (let opened = 0; opened < n; opened += OPEN_IN_PARALLEL) {
      const batch = Math.min(OPEN_IN_PARALLEL, n - opened);
      const results = await Promise.allSettled(
        Array.from({ length: batch }, () => RawConnection.open(url, { timeoutMs, heartbeat: HEARTBEAT_S, product: 'bench idle connection' })),
      );
      for (const r of results) if (r.status === 'fulfilled') conns.push(r.value);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = pid === undefined ? NaN : procCpuSeconds(pid);
    await sleep(SETTLE_MS);
    if (pid === undefined) return { connections: n, rate: Math.round(n / seconds) };
    const rss1 = procMemory(pid).rss;
    return {
      connections: n,
      rate: Math.round(n / seconds),
      rssPerConnectionKiB: Math.round(((rss1 - rss0) / n / KiB) * 10) / 10,
      brokerCpuUsPerConnection: Math.round(((cpu1 - cpu0) * 1e6) / n),
      brokerRssMiB: Math.round((rss1 / KiB / KiB) * 10) / 10,
      brokerRssBeforeMiB: Math.round((rss0 / KiB / KiB) * 10) / 10,
    };
  } finally {
    for (let i = 0; i < conns.length; i += OPEN_IN_PARALLEL) await Promise.all(conns.slice(i, i + OPEN_IN_PARALLEL).map((c) => c.close(5000)));
  }
}
