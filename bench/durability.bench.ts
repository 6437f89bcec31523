/**
 * Durability benchmark: what persistence costs. Starts the broker as a child
 * process on a fresh data directory under the OS temp dir and measures
 *
 *  1. confirmed persistent publishes per second (1 KiB bodies, durable
 *     queue, no consumer): 1 publisher with 1000 in flight, and 16
 *     publishers (16 connections) with 100 in flight each;
 *  2. with BENCH_MESSAGES such messages waiting: the broker's RSS, then
 *     SIGKILL and restart: spawn to "broker listening", the recovery times
 *     the broker logs, and the RSS after the restart;
 *  3. after a consumer drained and acked them all: the data directory's
 *     size and the journal segment files left.
 *
 * Progress goes to stderr; one JSON line per measurement to stdout at the
 * end; everything to bench/results/durability-<date>.json and a markdown
 * table to bench/results/durability-latest.md.
 *
 *   npm run bench:durability
 *   BENCH_MESSAGES=100000 BENCH_RATE_SECONDS=5 npm run bench:durability        (quick)
 *   npm run bench:durability -- --url amqp://guest:guest@127.0.0.1:5673 [--pid <server pid>]
 *       (scenario 1 only, against a server already running; with --pid its
 *       RSS and CPU are sampled too)
 *
 * Environment: BENCH_MESSAGES (1000000), BENCH_RATE_SECONDS (10, measured
 * after BENCH_WARMUP_SECONDS, 2), BENCH_BODY_BYTES (1024),
 * BENCH_PHASE_TIMEOUT_S (1200, the bound on every phase), BENCH_KEEP_DATA=1
 * keeps the temp directory.
 */
import * as amqp from 'amqplib';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BrokerProcess } from './broker-process.js';
import { envNumber, MiB, progress, round } from './bench-util.js';
import { dirUsage } from './dir-usage.js';
import { type ConfirmedLoad, publishLoad } from './confirmed-publish.js';
import { describeMachine, type Machine, machineLine } from './machine.js';
import { procMemory } from './proc-stats.js';
import { sleep, withTimeout } from './with-timeout.js';

const QUEUE = 'bench.durability';
/** Thresholds past which a number is flagged in the report. */
const RSS_WARN_BYTES = 300 * 1e6;
const RECOVERY_WARN_MS = 10_000;

const MESSAGES = Math.floor(envNumber('BENCH_MESSAGES', 1_000_000));
const RATE_SECONDS = envNumber('BENCH_RATE_SECONDS', 10);
const WARMUP_SECONDS = envNumber('BENCH_WARMUP_SECONDS', 2);
const BODY = Buffer.alloc(Math.floor(envNumber('BENCH_BODY_BYTES', 1024)), 'x');
const PHASE_TIMEOUT_MS = envNumber('BENCH_PHASE_TIMEOUT_S', 1200) * 1000;
const SHORT_TIMEOUT_MS = 30_000;
const SETTLE_MS = 2000;
const LOAD: ConfirmedLoad = {
  messages: [{ exchange: '', routingKey: QUEUE, properties: { deliveryMode: 2 }, body: BODY }],
  warmupSeconds: WARMUP_SECONDS,
  rateSeconds: RATE_SECONDS,
  phaseTimeoutMs: PHASE_TIMEOUT_MS,
  shortTimeoutMs: SHORT_TIMEOUT_MS,
};

interface Measurement {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly detail?: Record<string, number | string | boolean>;
}

const measurements: Measurement[] = [];
const warnings: string[] = [];

function record(m: Measurement): void {
  measurements.push(m);
  progress(`=> ${m.name}: ${m.value} ${m.unit}${m.detail === undefined ? '' : ` ${JSON.stringify(m.detail)}`}`);
}

/** Scenario 1: timed confirmed-publish rates, the queue purged after each. */
async function publishRates(url: URL, admin: amqp.Channel, serverPid: number | undefined): Promise<void> {
  for (const [publishers, window] of [
    [1, 1000],
    [16, 100],
  ] as const) {
    const label = `${publishers} publisher${publishers > 1 ? 's' : ''} x ${window} in flight`;
    progress(`-- confirmed persistent publishes, ${label}, ${BODY.length}-byte bodies, ${WARMUP_SECONDS} s warm-up + ${RATE_SECONDS} s`);
    const r = await publishLoad(LOAD, url, label, publishers, window, undefined, serverPid);
    record({
      name: `publish_confirmed_${publishers}x${window}`,
      value: Math.round(r.rate),
      unit: 'msg/s',
      detail: {
        publishers,
        inFlightPerPublisher: window,
        measuredSeconds: round(r.seconds),
        confirmed: r.confirmed,
        nacked: r.nacked,
        loadGeneratorCpuPct: Math.round(r.clientCpuPct),
        ...(r.serverCpuPct === undefined ? {} : { serverCpuPct: Math.round(r.serverCpuPct) }),
      },
    });
    await withTimeout(admin.purgeQueue(QUEUE), PHASE_TIMEOUT_MS, 'queue.purge');
  }
}

async function queueDepth(admin: amqp.Channel): Promise<number> {
  return (await withTimeout(admin.checkQueue(QUEUE), SHORT_TIMEOUT_MS, 'queue.declare passive')).messageCount;
}

async function openAdmin(url: URL): Promise<{ conn: amqp.ChannelModel; admin: amqp.Channel }> {
  const conn = await withTimeout(amqp.connect(url.href), SHORT_TIMEOUT_MS, 'amqplib connect');
  const admin = await conn.createChannel();
  await admin.assertQueue(QUEUE, { durable: true });
  return { conn, admin };
}

/** Consumes and acks (in batches, multiple=true) `expected` messages; returns messages per second. */
async function drain(conn: amqp.ChannelModel, expected: number): Promise<number> {
  const ch = await conn.createChannel();
  await ch.prefetch(2000);
  const t0 = performance.now();
  let got = 0;
  const ticker = setInterval(() => progress(`[drain] ${round((performance.now() - t0) / 1000)} s  consumed ${got}`), 1000);
  try {
    await withTimeout(
      new Promise<void>((resolve) => {
        void ch.consume(QUEUE, (msg) => {
          if (msg === null) return;
          got++;
          if (got % 500 === 0 || got === expected) ch.ack(msg, true);
          if (got === expected) resolve();
        });
      }),
      PHASE_TIMEOUT_MS,
      `drain (${got} of ${expected})`,
    );
  } finally {
    clearInterval(ticker);
  }
  const rate = expected / ((performance.now() - t0) / 1000);
  await ch.close();
  return rate;
}

async function journalFiles(dataDir: string): Promise<{ files: number; segments: number }> {
  const names = await readdir(join(dataDir, 'journal')).catch(() => [] as string[]);
  return { files: names.length, segments: names.filter((n) => n.endsWith('.msgs')).length };
}

/** Waits (bounded) until the journal's file count has not changed for a few seconds: segment deletion may lag the last ack. */
async function journalSettled(dataDir: string): Promise<{ files: number; segments: number }> {
  let last = await journalFiles(dataDir);
  let stableSince = performance.now();
  const deadline = performance.now() + SHORT_TIMEOUT_MS;
  while (performance.now() - stableSince < 3000 && performance.now() < deadline) {
    await sleep(250);
    const now = await journalFiles(dataDir);
    if (now.files !== last.files) stableSince = performance.now();
    last = now;
  }
  return last;
}

async function recordMemory(broker: BrokerProcess, name: string): Promise<void> {
  await sleep(SETTLE_MS);
  const { rss, peakRss } = procMemory(broker.pid);
  record({ name, value: round(rss / MiB), unit: 'MiB', detail: { peakRssMiB: round(peakRss / MiB), messages: MESSAGES, settledMs: SETTLE_MS } });
  if (rss > RSS_WARN_BYTES && MESSAGES >= 1_000_000) warnings.push(`${name}: RSS ${round(rss / 1e6)} MB with ${MESSAGES} messages is over 300 MB`);
}

async function recordDirSize(dataDir: string, name: string): Promise<void> {
  const usage = await dirUsage(dataDir);
  const journal = await journalFiles(dataDir);
  record({
    name,
    value: round(usage.diskBytes / MiB, 2),
    unit: 'MiB',
    detail: { apparentMiB: round(usage.apparentBytes / MiB, 2), files: usage.files, journalFiles: journal.files, journalSegments: journal.segments },
  });
}

/** Scenarios 1–4 against a broker this process starts and restarts. */
async function benchOwnBroker(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'durability-bench-'));
  const dataDir = join(work, 'data');
  const logFile = join(work, 'broker.log');
  progress(`data dir ${dataDir}, broker log ${logFile}`);
  let { broker } = await BrokerProcess.start(dataDir, logFile, SHORT_TIMEOUT_MS);
  let ok = false;
  try {
    const idle = procMemory(broker.pid);
    record({ name: 'rss_idle', value: round(idle.rss / MiB), unit: 'MiB', detail: { peakRssMiB: round(idle.peakRss / MiB) } });
    let url = new URL(`amqp://guest:guest@127.0.0.1:${broker.port}`);
    let { conn, admin } = await openAdmin(url);
    await publishRates(url, admin, broker.pid);

    progress(`-- filling the queue with ${MESSAGES} confirmed persistent messages (16 publishers x 100 in flight)`);
    const fill = await publishLoad(LOAD, url, 'fill', 16, 100, MESSAGES, broker.pid);
    record({ name: 'fill_confirmed_16x100', value: Math.round(fill.rate), unit: 'msg/s', detail: { messages: MESSAGES, seconds: round(fill.seconds), nacked: fill.nacked } });
    const depth = await queueDepth(admin);
    if (depth !== MESSAGES) throw new Error(`queue holds ${depth} messages after the fill, expected ${MESSAGES}`);
    await recordMemory(broker, 'rss_after_publish');
    await recordDirSize(dataDir, 'data_dir_with_messages');
    await conn.close();

    progress('-- SIGKILL and restart');
    await broker.stop('SIGKILL', SHORT_TIMEOUT_MS);
    const restarted = await BrokerProcess.start(dataDir, logFile, PHASE_TIMEOUT_MS);
    broker = restarted.broker;
    const { start } = restarted;
    const journal = start.journalRecovered;
    const recoveryMs = typeof journal?.['ms'] === 'number' ? journal['ms'] : NaN;
    record({ name: 'restart_to_listening', value: Math.round(start.listeningMs), unit: 'ms', detail: { messages: MESSAGES } });
    record({
      name: 'journal_recovered',
      value: recoveryMs,
      unit: 'ms',
      detail: { records: Number(journal?.['records']), messages: Number(journal?.['messages']), segments: Number(journal?.['segments']) },
    });
    if (start.dataDirRecoveredMs !== undefined) record({ name: 'data_directory_recovered', value: start.dataDirRecoveredMs, unit: 'ms' });
    if (start.listeningMs > RECOVERY_WARN_MS) warnings.push(`restart took ${Math.round(start.listeningMs)} ms (over 10 s) with ${MESSAGES} messages`);
    await recordMemory(broker, 'rss_after_restart');

    url = new URL(`amqp://guest:guest@127.0.0.1:${broker.port}`);
    ({ conn, admin } = await openAdmin(url));
    const recovered = await queueDepth(admin);
    if (recovered !== MESSAGES) warnings.push(`the queue came back with ${recovered} messages, expected ${MESSAGES}`);
    progress(`-- draining ${recovered} messages`);
    const drainRate = await drain(conn, recovered);
    record({ name: 'drain_consume_ack', value: Math.round(drainRate), unit: 'msg/s', detail: { messages: recovered, consumer: 'amqplib, prefetch 2000, ack multiple every 500' } });
    const left = await queueDepth(admin);
    if (left !== 0) warnings.push(`${left} messages left in the queue after the drain`);
    await conn.close();
    const segments = await journalSettled(dataDir);
    await recordDirSize(dataDir, 'data_dir_after_drain');
    record({ name: 'journal_segments_after_drain', value: segments.segments, unit: 'segments', detail: { journalFiles: segments.files } });
    await recordMemory(broker, 'rss_after_drain');
    await broker.stop('SIGTERM', SHORT_TIMEOUT_MS);
    ok = true;
  } finally {
    if (!ok) await broker.stop('SIGKILL', SHORT_TIMEOUT_MS).catch(() => {});
    if (ok && process.env['BENCH_KEEP_DATA'] !== '1') await rm(work, { recursive: true, force: true });
    else progress(`kept ${work}`);
  }
}

/** Scenario 1 only, against a server already running at `url` (RabbitMQ, say); the queue is deleted afterwards. */
async function benchExternal(url: URL, pid: number | undefined): Promise<void> {
  const { conn, admin } = await openAdmin(url);
  try {
    await admin.purgeQueue(QUEUE);
    await publishRates(url, admin, pid);
  } finally {
    await admin.deleteQueue(QUEUE).catch(() => {});
    await conn.close().catch(() => {});
  }
}

function markdown(target: string, date: string, own: boolean, machine: Machine, loadBefore: readonly number[]): string {
  const rows = measurements.map((m) => {
    const detail = Object.entries(m.detail ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    return `| ${m.name} | ${m.value} ${m.unit} | ${detail} |`;
  });
  return [
    `# Durability benchmark, ${date}`,
    '',
    `Target: ${target}. Machine: ${machineLine(machine)}, load average ${loadBefore.join(' ')} before and ${machine.loadAverage.join(' ')} after. Bodies ${BODY.length} bytes, persistent, durable queue, publisher confirms, rates over ${RATE_SECONDS} s after ${WARMUP_SECONDS} s of warm-up${own ? `; ${MESSAGES} messages for the restart and drain` : ''}.`,
    '',
    '| measurement | value | detail |',
    '| --- | --- | --- |',
    ...rows,
    '',
    ...(warnings.length === 0 ? [] : ['Flagged:', '', ...warnings.map((w) => `- ${w}`), '']),
    'Reproduce: `npm run bench:durability` (see bench/durability.bench.ts for the environment variables and `--url`).',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { url: { type: 'string' }, pid: { type: 'string' } }, strict: true });
  const external = values.url === undefined ? undefined : new URL(values.url);
  const target = external === undefined ? 'this broker (child process, fresh data dir)' : `${external.protocol}//${external.host}`;
  const startedAt = new Date();
  // Other work on the machine skews every number here: the load average says whether there was any.
  const { loadAverage: loadBefore } = describeMachine();
  if (external === undefined) await benchOwnBroker();
  else await benchExternal(external, values.pid === undefined ? undefined : Number(values.pid));

  for (const m of measurements) process.stdout.write(`${JSON.stringify({ bench: 'durability', target, ...m })}\n`);
  for (const w of warnings) progress(`WARNING: ${w}`);
  const results = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  await mkdir(results, { recursive: true });
  const stamp = startedAt.toISOString().slice(0, 19).replace(/:/g, '-');
  const suffix = external === undefined ? '' : '-url';
  const config = { messages: MESSAGES, bodyBytes: BODY.length, rateSeconds: RATE_SECONDS, warmupSeconds: WARMUP_SECONDS };
  const machine = describeMachine();
  await writeFile(join(results, `durability-${stamp}${suffix}.json`), `${JSON.stringify({ date: startedAt.toISOString(), target, machine: { ...machine, loadBefore }, config, measurements, warnings }, null, 2)}\n`);
  await writeFile(join(results, `durability-latest${suffix}.md`), markdown(target, startedAt.toISOString(), external === undefined, machine, loadBefore));
  progress(`results written to ${results}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`durability bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
