/**
 * Replication benchmark: what a standby costs, and how fast one catches up.
 * Starts brokers as child processes on fresh data directories and measures,
 * side by side in one run:
 *
 *  1. confirmed persistent publishes per second (1 KiB bodies, durable
 *     queue): 1 publisher with 1000 in flight and 16 with 100 each, on a
 *     broker alone and on a primary with its standby in sync; the ratio;
 *  2. confirm latency, one publish at a time (p50, p99), both ways: the
 *     round trip a standby adds;
 *  2b. the same on a pair under automatic failover, etcd (Debian's
 *     etcd-server, started here) electing the primary and every confirm
 *     checked against the lease (BENCH_ETCD=0 skips it), as a ratio to the
 *     pair without etcd;
 *  3. the same rates and latency on a quorum queue of a three-node
 *     RabbitMQ 3.10.8 cluster from Debian (bench/rabbitmq-cluster.sh starts
 *     it; BENCH_RABBITMQ=0 skips it), and our pair's ratio to it;
 *  4. catch-up: a primary holding BENCH_CATCHUP_MESSAGES messages over
 *     BENCH_CATCHUP_QUEUES durable queues gets a new standby while a
 *     publisher keeps confirming: time to in sync, MiB/s, and the largest
 *     RSS of either node meanwhile.
 *
 *   npm run bench:replication
 *   BENCH_CATCHUP_MESSAGES=100000 BENCH_RATE_SECONDS=5 BENCH_RABBITMQ=0 npm run bench:replication   (quick)
 *
 * Results: bench/results/replication-<date>.json and replication-latest.md.
 */
import * as amqp from 'amqplib';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { envNumber, MiB, progress, round } from './bench-util.js';
import { BrokerProcess } from './broker-process.js';
import { type ConfirmedLoad, publishLoad } from './confirmed-publish.js';
import { describeMachine, machineLine } from './machine.js';
import { procMemory } from './proc-stats.js';
import { withTimeout } from './with-timeout.js';
import { TestEtcd } from '../test/support/etcd.js';

const QUEUE = 'bench.replication';
const BODY = Buffer.alloc(Math.floor(envNumber('BENCH_BODY_BYTES', 1024)), 'x');
const RATE_SECONDS = envNumber('BENCH_RATE_SECONDS', 10);
const WARMUP_SECONDS = envNumber('BENCH_WARMUP_SECONDS', 2);
const LATENCY_SAMPLES = Math.floor(envNumber('BENCH_LATENCY_SAMPLES', 3000));
const CATCHUP_MESSAGES = Math.floor(envNumber('BENCH_CATCHUP_MESSAGES', 1_000_000));
const CATCHUP_QUEUES = Math.floor(envNumber('BENCH_CATCHUP_QUEUES', 5000));
const PHASE_TIMEOUT_MS = envNumber('BENCH_PHASE_TIMEOUT_S', 1200) * 1000;
const SHORT_TIMEOUT_MS = 30_000;
const SECRET = 'replication bench';
const RABBITMQ_FIRST_PORT = 5701;

const load = (messages: ConfirmedLoad['messages']): ConfirmedLoad => ({
  messages,
  warmupSeconds: WARMUP_SECONDS,
  rateSeconds: RATE_SECONDS,
  phaseTimeoutMs: PHASE_TIMEOUT_MS,
  shortTimeoutMs: SHORT_TIMEOUT_MS,
});
const ONE_QUEUE = load([{ exchange: '', routingKey: QUEUE, properties: { deliveryMode: 2 }, body: BODY }]);

interface Measurement {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly detail?: Record<string, number | string>;
}
const measurements: Measurement[] = [];
function record(m: Measurement): void {
  measurements.push(m);
  progress(`=> ${m.name}: ${m.value} ${m.unit}${m.detail === undefined ? '' : ` ${JSON.stringify(m.detail)}`}`);
}

/** A broker, or a primary with its standby in sync. */
async function startSetup(work: string, name: string, withStandby: boolean): Promise<{ primary: BrokerProcess; standby: BrokerProcess | undefined }> {
  const replicationArgs = withStandby ? ['--replication-port', '0', '--cluster-secret', SECRET] : [];
  const { broker: primary } = await BrokerProcess.start(join(work, `${name}-primary`), join(work, `${name}-primary.log`), SHORT_TIMEOUT_MS, { args: replicationArgs });
  if (!withStandby) return { primary, standby: undefined };
  const listening = await primary.waitFor((l) => l.msg === 'replication: primary listening for its standby', SHORT_TIMEOUT_MS, 'replication listening');
  const standby = await startStandby(work, name, Number(listening['port']));
  await standby.waitFor((l) => l.msg === 'replication: in sync with the primary', PHASE_TIMEOUT_MS, 'standby in sync');
  return { primary, standby };
}

/** Scenario 2b: the same pair under automatic failover (both nodes started alike; etcd elects one), once the standby is recorded in sync. */
async function startElectedPair(work: string, etcdUrl: string): Promise<{ primary: BrokerProcess; standby: BrokerProcess }> {
  const args = ['--replication-port', '0', '--cluster-secret', SECRET, '--etcd', etcdUrl];
  const nodes: BrokerProcess[] = [];
  try {
    for (const name of ['elected-a', 'elected-b']) nodes.push((await BrokerProcess.start(join(work, name), join(work, `${name}.log`), SHORT_TIMEOUT_MS, { args })).broker);
    const elected = (node: BrokerProcess): Promise<BrokerProcess> => node.waitFor((l) => l.msg === 'failover: serving as the primary', SHORT_TIMEOUT_MS, 'elected').then(() => node);
    const primary = await Promise.any(nodes.map(elected));
    await primary.waitFor((l) => l.msg === 'failover: in-sync record written' && l['inSync'] === true, PHASE_TIMEOUT_MS, 'the standby recorded in sync');
    return { primary, standby: nodes.find((n) => n !== primary)! };
  } catch (err) {
    await stopAll(...nodes);
    throw err;
  }
}

/** The pair under etcd: confirmed publish rates with every confirm checked against the lease. */
async function electedPair(work: string): Promise<Record<string, number>> {
  const cleanups: (() => unknown)[] = [];
  try {
    const etcd = await TestEtcd.start({ teardown: (fn) => cleanups.push(fn) });
    progress('-- a primary with its standby in sync, elected by etcd');
    const pair = await startElectedPair(work, etcd.url);
    return await measureSetup(ourTarget(pair.primary), 'with_standby_under_etcd').finally(() => stopAll(pair.primary, pair.standby));
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}

async function startStandby(work: string, name: string, replicationPort: number): Promise<BrokerProcess> {
  const args = ['--standby-of', `127.0.0.1:${replicationPort}`, '--replication-port', '0', '--cluster-secret', SECRET];
  return (await BrokerProcess.start(join(work, `${name}-standby`), join(work, `${name}-standby.log`), SHORT_TIMEOUT_MS, { args })).broker;
}

async function stopAll(...brokers: (BrokerProcess | undefined)[]): Promise<void> {
  for (const b of brokers) await b?.stop('SIGTERM', SHORT_TIMEOUT_MS).catch(() => b.stop('SIGKILL', SHORT_TIMEOUT_MS));
}

const url = (broker: BrokerProcess): URL => new URL(`amqp://guest:guest@127.0.0.1:${broker.port}`);

/** Where the load goes: a broker's URL, its pid when known (for its CPU), the queue's arguments. */
interface Target {
  readonly url: URL;
  readonly pid: number | undefined;
  readonly queueArguments?: Record<string, string>;
}

const ourTarget = (broker: BrokerProcess): Target => ({ url: url(broker), pid: broker.pid });

/** Confirmed publish rates and confirm latency on one setup; returns the rates by name. */
async function measureSetup(target: Target, label: string): Promise<Record<string, number>> {
  const conn = await amqp.connect(target.url.href);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(QUEUE, { durable: true, arguments: target.queueArguments ?? {} });
  const rates: Record<string, number> = {};
  for (const [publishers, window] of [
    [1, 1000],
    [16, 100],
  ] as const) {
    const name = `publish_confirmed_${publishers}x${window}_${label}`;
    const r = await publishLoad(ONE_QUEUE, target.url, `${label} ${publishers}x${window}`, publishers, window, undefined, target.pid);
    rates[`${publishers}x${window}`] = r.rate;
    record({ name, value: Math.round(r.rate), unit: 'msg/s', detail: { confirmed: r.confirmed, nacked: r.nacked, serverCpuPct: Math.round(r.serverCpuPct ?? NaN) } });
    await ch.purgeQueue(QUEUE);
  }
  const latencies: number[] = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const t0 = performance.now();
    ch.sendToQueue(QUEUE, BODY, { persistent: true });
    await ch.waitForConfirms();
    latencies.push(performance.now() - t0);
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!, 3);
  record({ name: `confirm_latency_p50_${label}`, value: at(0.5), unit: 'ms', detail: { samples: LATENCY_SAMPLES, p99: at(0.99), max: at(1) } });
  rates['p50'] = at(0.5);
  rates['p99'] = at(0.99);
  await ch.deleteQueue(QUEUE);
  await conn.close();
  return rates;
}

/** Scenario 3: a quorum queue on a three-node RabbitMQ cluster on this machine. */
async function quorumCluster(): Promise<Record<string, number>> {
  const script = fileURLToPath(new URL('../../bench/rabbitmq-cluster.sh', import.meta.url));
  progress('-- RabbitMQ 3.10.8, three nodes, quorum queue (starting the cluster)');
  execFileSync('bash', [script, 'start', String(RABBITMQ_FIRST_PORT)], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 });
  try {
    const target = { url: new URL(`amqp://guest:guest@127.0.0.1:${RABBITMQ_FIRST_PORT}`), pid: undefined, queueArguments: { 'x-queue-type': 'quorum' } };
    return await measureSetup(target, 'rabbitmq_quorum');
  } finally {
    execFileSync('bash', [script, 'stop', String(RABBITMQ_FIRST_PORT)], { stdio: 'ignore', timeout: 120_000 });
  }
}

/** Scenario 4: a new standby catches up with a full primary while it keeps confirming. */
async function catchUp(work: string): Promise<void> {
  // `alone`: the primary confirms the fill with no standby attached yet.
  const { broker: full } = await BrokerProcess.start(join(work, 'catchup-primary'), join(work, 'catchup-primary.log'), SHORT_TIMEOUT_MS, {
    args: ['--replication-port', '0', '--cluster-secret', SECRET, '--replication-policy', 'alone'],
  });
  let standby: BrokerProcess | undefined;
  // A failure anywhere must not leave the brokers running.
  try {
    standby = await fillAndCatchUp(work, full);
  } finally {
    await stopAll(full, standby);
  }
}

async function fillAndCatchUp(work: string, full: BrokerProcess): Promise<BrokerProcess> {
  const listening = await full.waitFor((l) => l.msg === 'replication: primary listening for its standby', SHORT_TIMEOUT_MS, 'replication listening');
  const conn = await amqp.connect(url(full).href);
  const ch = await conn.createChannel();
  const queues = Array.from({ length: CATCHUP_QUEUES }, (_, i) => `catchup.${String(i).padStart(6, '0')}`);
  progress(`-- declaring ${CATCHUP_QUEUES} durable queues`);
  for (const q of queues) await ch.assertQueue(q, { durable: true });
  progress(`-- filling them with ${CATCHUP_MESSAGES} messages of ${BODY.length} bytes`);
  const fill = load(queues.map((q) => ({ exchange: '', routingKey: q, properties: { deliveryMode: 2 }, body: BODY })));
  await publishLoad(fill, url(full), 'fill', 16, 100, CATCHUP_MESSAGES, full.pid);
  const bytes = CATCHUP_MESSAGES * BODY.length;

  let peakPrimary = procMemory(full.pid).rss;
  let peakStandby = 0;
  const t0 = performance.now();
  const standby = await startStandby(work, 'catchup', Number(listening['port']));
  const sampler = setInterval(() => {
    peakPrimary = Math.max(peakPrimary, procMemory(full.pid).rss);
    peakStandby = Math.max(peakStandby, procMemory(standby.pid).rss);
  }, 200);
  // The primary keeps confirming meanwhile: one publisher, 100 in flight, to the first queue.
  const during = publishLoad(load([fill.messages[0]!]), url(full), 'during catch-up', 1, 100, 50_000, full.pid);
  try {
    await standby.waitFor((l) => l.msg === 'replication: in sync with the primary', PHASE_TIMEOUT_MS, 'standby in sync');
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - t0) / 1000;
  const sent = full.logLines.find((l) => l.msg === 'replication: snapshot sent');
  const duringRate = (await during).rate;
  record({
    name: 'catch_up',
    value: round(seconds, 2),
    unit: 's',
    detail: {
      messages: CATCHUP_MESSAGES,
      queues: CATCHUP_QUEUES,
      messageMiB: round(bytes / MiB),
      snapshotMiB: round(Number(sent?.['bytes'] ?? NaN) / MiB),
      mibPerSecond: round(bytes / MiB / seconds),
      primaryPeakRssMiB: round(peakPrimary / MiB),
      standbyPeakRssMiB: round(peakStandby / MiB),
      confirmsPerSecondMeanwhile: Math.round(duringRate),
    },
  });
  await conn.close();
  return standby;
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const { loadAverage: loadBefore } = describeMachine();
  const work = await mkdtemp(join(tmpdir(), 'replication-bench-'));
  progress(`work dir ${work}`);
  try {
    progress('-- a broker alone');
    const alone = await startSetup(work, 'alone', false);
    const a = await measureSetup(ourTarget(alone.primary), 'alone').finally(() => stopAll(alone.primary));
    progress('-- a primary with its standby in sync');
    const pair = await startSetup(work, 'pair', true);
    const p = await measureSetup(ourTarget(pair.primary), 'with_standby').finally(() => stopAll(pair.primary, pair.standby));
    for (const key of ['1x1000', '16x100']) record({ name: `ratio_with_standby_${key}`, value: round(p[key]! / a[key]!, 2), unit: 'x', detail: { target: '>= 0.7' } });
    record({ name: 'added_confirm_latency_p50', value: round(p['p50']! - a['p50']!, 3), unit: 'ms', detail: { p99: round(p['p99']! - a['p99']!, 3) } });
    if (process.env['BENCH_ETCD'] !== '0') {
      const e = await electedPair(work);
      for (const key of ['1x1000', '16x100']) record({ name: `ratio_under_etcd_to_with_standby_${key}`, value: round(e[key]! / p[key]!, 2), unit: 'x', detail: { target: '~1' } });
    }
    if (process.env['BENCH_RABBITMQ'] !== '0') {
      const q = await quorumCluster();
      for (const key of ['1x1000', '16x100']) record({ name: `ratio_with_standby_to_rabbitmq_quorum_${key}`, value: round(p[key]! / q[key]!, 2), unit: 'x', detail: { target: '>= 3' } });
    }
    await withTimeout(catchUp(work), PHASE_TIMEOUT_MS, 'catch-up');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const results = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  await mkdir(results, { recursive: true });
  const machine = describeMachine();
  const stamp = startedAt.toISOString().slice(0, 19).replace(/:/g, '-');
  const config = { bodyBytes: BODY.length, rateSeconds: RATE_SECONDS, warmupSeconds: WARMUP_SECONDS, latencySamples: LATENCY_SAMPLES, catchUpMessages: CATCHUP_MESSAGES, catchUpQueues: CATCHUP_QUEUES };
  await writeFile(join(results, `replication-${stamp}.json`), `${JSON.stringify({ date: startedAt.toISOString(), machine: { ...machine, loadBefore }, config, measurements }, null, 2)}\n`);
  const rows = measurements.map((m) => `| ${m.name} | ${m.value} ${m.unit} | ${Object.entries(m.detail ?? {}).map(([k, v]) => `${k}=${v}`).join(', ')} |`);
  const md = [
    `# Replication benchmark, ${startedAt.toISOString()}`,
    '',
    `Machine: ${machineLine(machine)}, load average ${loadBefore.join(' ')} before and ${machine.loadAverage.join(' ')} after. Both nodes and the load generator on this machine; ${BODY.length}-byte persistent messages, publisher confirms, rates over ${RATE_SECONDS} s after ${WARMUP_SECONDS} s of warm-up.`,
    '',
    '| measurement | value | detail |',
    '| --- | --- | --- |',
    ...rows,
    '',
    'Reproduce: `npm run bench:replication` (see bench/replication.bench.ts for the environment variables).',
    '',
  ].join('\n');
  await writeFile(join(results, 'replication-latest.md'), md);
  progress(`results written to ${results}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`replication bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
