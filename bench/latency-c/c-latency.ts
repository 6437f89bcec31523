/**
 * The C latency generator (latency.c, on librabbitmq) as a scenario run:
 * builds it when needed (build.sh), runs it against an AMQP URL as a child
 * process (which inherits this process's CPU affinity: the runner's
 * `taskset -c 0` covers it), and adds to its JSON record the broker's CPU
 * and RSS from /proc, read when the program reports the start and the end of
 * its measured window. Nothing else runs in this process meanwhile: no
 * timers, so the busy-polling generator has the CPU to itself.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type BrokerSample, brokerWindow, procCpusStolenSeconds, procMemory, procRunqueueWaitSeconds, sampleBroker } from '../proc-stats.js';

const BUILD_SCRIPT = fileURLToPath(new URL('../../../bench/latency-c/build.sh', import.meta.url));
const MARK_PREFIX = 'latency: ';
const MiB = 1024 * 1024;

export interface CLatencySpec {
  readonly rate: number;
  /** Measured seconds, after the warm-up. */
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly bodyBytes: number;
  readonly queue: string;
  readonly timeoutMs: number;
}

export type CLatencyRecord = Readonly<Record<string, number | string>>;

interface Snapshot {
  readonly t: number;
  readonly broker: BrokerSample;
  readonly generatorWait: number;
  /** The generator runs on this process's CPUs (it inherits the affinity). */
  readonly generatorStolen: number;
}

const round = (n: number, places = 1): number => Math.round(n * 10 ** places) / 10 ** places;

/** The generator's run-queue wait, NaN when it has already exited (the end mark races with its exit). */
function generatorWait(pid: number): number {
  try {
    return procRunqueueWaitSeconds(pid);
  } catch {
    return NaN;
  }
}

/** Builds one of the C programs if it is missing or older than its source (installing librabbitmq-dev if needed); its path. */
export function buildCProgram(name: 'latency' | 'cpu-stalls'): string {
  return execFileSync(BUILD_SCRIPT, [name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

/** The program's JSON line as a flat record (null, for a percentile without samples, becomes NaN). */
function parseRecord(line: string): CLatencyRecord {
  const raw = JSON.parse(line) as Record<string, unknown>;
  const record: Record<string, number | string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v === 'number' || typeof v === 'string') record[k] = v;
    else if (v === null) record[k] = NaN;
    else throw new Error(`unexpected field ${k} in the C generator's output: ${line}`);
  }
  return record;
}

export async function runCLatency(url: URL, spec: CLatencySpec, brokerPid: number | undefined): Promise<CLatencyRecord> {
  const binary = buildCProgram('latency');
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const args = [host, url.port || '5672', spec.rate, spec.seconds, spec.warmupSeconds, spec.bodyBytes, spec.queue].map(String);
  const env = {
    ...process.env,
    AMQP_USER: decodeURIComponent(url.username || 'guest'),
    AMQP_PASSWORD: decodeURIComponent(url.password || 'guest'),
    AMQP_VHOST: url.pathname.length > 1 ? decodeURIComponent(url.pathname.slice(1)) : '/',
  };
  const child = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start ${binary}`);
  const snapshot = (): Snapshot => ({
    t: performance.now(),
    broker: sampleBroker(brokerPid),
    generatorWait: generatorWait(pid),
    generatorStolen: procCpusStolenSeconds(process.pid),
  });

  let start: Snapshot | undefined;
  let end: Snapshot | undefined;
  const errors: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    if (line === `${MARK_PREFIX}measuring`) start = snapshot();
    else if (line === `${MARK_PREFIX}measured`) end = snapshot();
    else errors.push(line);
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), spec.timeoutMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c, s) => resolve([c, s]));
  }).finally(() => clearTimeout(timer));
  if (code !== 0) throw new Error(`the C generator exited with ${code ?? signal}: ${errors.join('; ') || 'no message'}`);
  const record = parseRecord(out.trim().split('\n').pop() ?? '');
  if (start === undefined || end === undefined) throw new Error('the C generator did not report its measured window');

  const seconds = (end.t - start.t) / 1000;
  const measured = Number(record['deliveriesMeasured']);
  return {
    ...record,
    ...(brokerPid === undefined
      ? {}
      : {
          ...brokerWindow(start.broker, end.broker, seconds, measured),
          brokerRssMiB: round(procMemory(brokerPid).rss / MiB),
        }),
    generatorCpuWaitPct: Math.round(((end.generatorWait - start.generatorWait) / seconds) * 100),
    generatorCpuStolenPct: Math.round(((end.generatorStolen - start.generatorStolen) / seconds) * 100),
  };
}
