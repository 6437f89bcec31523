/**
 * Definitions benchmark: how fast durable queues and bindings are declared,
 * and how long they take to come back after a crash, for this broker and a
 * private RabbitMQ (Debian's 3.10.8, conformance/reference-rabbitmq.sh) in
 * the same run, one broker after the other, each pinned to the broker CPU on
 * a fresh data directory under one temp directory, on its own loopback port
 * (refused when something already listens there):
 *
 *  1. one channel declares BENCH_QUEUES durable queues, awaiting each
 *     declare-ok, then binds each to amq.direct (routing key = its name)
 *     the same way: the rate of every 1,000 printed as it goes; reported over
 *     the first 2,000, the 2,000 up to 10,000 and up to 50,000, the last
 *     2,000 and overall, to show whether it stays flat as the count grows;
 *  2. on another fresh broker, BENCH_CHANNELS connections (one channel each)
 *     declare BENCH_PARALLEL_QUEUES durable queues together, each awaiting
 *     its own declare-ok;
 *  3. SIGKILL of the broker from 1 with its queues and bindings, then a start
 *     on the same data: spawn to the first connection.start, spawn to a
 *     passive declare of the last queue answered, the recovery times the
 *     broker logs, RSS before the kill and after recovery; then every queue
 *     is checked with a passive declare and a sample of the bindings by
 *     publishing through amq.direct.
 *
 * First, the client's floor: the declare loops of 1 and 2 against the null
 * broker (answers at once, stores nothing), 20,000 declares each.
 *
 * Every phase stops at its count or after BENCH_PHASE_TIMEOUT_S and reports
 * what it reached. The client is bench/amqp/raw-connection.ts (a few µs of
 * CPU per declare, reported as clientCpuUsPerOp), pinned to --client-cpu.
 * Progress goes to stderr; the JSON lines to bench/results/definitions-<date>.json
 * (a header line, then one per measurement) and a table to
 * bench/results/definitions-latest.md.
 *
 *   npm run bench:definitions
 *   BENCH_QUEUES=4000 npm run bench:definitions                    (quick)
 *   npm run bench:definitions -- --report-from bench/results/definitions-<date>.json   (the table again)
 *   npm run bench:definitions -- --brokers ours --port 5682 --rabbitmq-port 5675 --null-port 5698 --broker-cpu 1 --client-cpu 0
 *
 * Environment: BENCH_QUEUES (100000), BENCH_PARALLEL_QUEUES (the smaller of
 * 32000 and BENCH_QUEUES), BENCH_CHANNELS (16), BENCH_PHASE_TIMEOUT_S (600,
 * each phase), BENCH_START_TIMEOUT_S (600, each broker start), BENCH_KEEP_DATA=1
 * keeps the temp directory.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FrameConstant } from '../src/protocol/generated/amqp-constants.js';
import { MethodId } from '../src/protocol/generated/amqp-methods.js';
import { publishFrames } from './amqp/frames.js';
import { RawConnection } from './amqp/raw-connection.js';
import { envNumber, MiB, progress, round } from './bench-util.js';
import { ensureRabbitMQ, packageVersion, portFree, runStoppingBrokers, type RunningBroker, startNullBroker, startOurs, startRabbitMQ } from './brokers.js';
import { type BrokerName, definitionsMarkdown, type Measurement } from './definitions-report.js';
import { describeMachine } from './machine.js';
import { procCpuSeconds, procCpusBusySeconds, procMemory, procRunqueueWaitSeconds } from './proc-stats.js';
import { sleep, withTimeout } from './with-timeout.js';

const QUEUES = Math.floor(envNumber('BENCH_QUEUES', 100_000));
const PARALLEL_QUEUES = Math.floor(envNumber('BENCH_PARALLEL_QUEUES', Math.min(32_000, QUEUES)));
const CHANNELS = Math.floor(envNumber('BENCH_CHANNELS', 16));
const PHASE_TIMEOUT_MS = envNumber('BENCH_PHASE_TIMEOUT_S', 600) * 1000;
const START_TIMEOUT_MS = envNumber('BENCH_START_TIMEOUT_S', 600) * 1000;
/** Operations per progress line and per recorded time. */
const BLOCK = 1000;
/** Operations per reported rate. */
const WINDOW = 2000;
/** Reported windows end at these counts (and at the last thousand reached). */
const CHECKPOINTS = [2000, 10_000, 50_000] as const;
const SHORT_TIMEOUT_MS = 30_000;
const SETTLE_MS = 2000;
const BINDING_SAMPLE = 200;
/** Declares per loop against the null broker (the client's own floor). */
const FLOOR_OPS = 20_000;
const RESULTS = fileURLToPath(new URL('../../bench/results/', import.meta.url));

const { values } = parseArgs({
  options: {
    brokers: { type: 'string', default: 'ours,rabbitmq' },
    port: { type: 'string', default: '5682' },
    'rabbitmq-port': { type: 'string', default: '5675' },
    'null-port': { type: 'string', default: '5698' },
    'broker-cpu': { type: 'string', default: '1' },
    'client-cpu': { type: 'string', default: '0' },
    'report-from': { type: 'string' },
  },
  strict: true,
});
const brokerNames = values.brokers.split(',').filter((b) => b !== '') as ('ours' | 'rabbitmq')[];
for (const b of brokerNames) if (b !== 'ours' && b !== 'rabbitmq') throw new Error(`--brokers takes ours and/or rabbitmq, not '${b}'`);
const brokerCpus = values['broker-cpu'];
const clientCpus = values['client-cpu'];

const measurements: Measurement[] = [];
const warnings: string[] = [];
const running = new Set<RunningBroker>();

function record(m: Measurement): void {
  measurements.push(m);
  progress(`=> ${m.broker} ${m.name}: ${m.value} ${m.unit}${m.detail === undefined ? '' : ` ${JSON.stringify(m.detail)}`}`);
}

const queueName = (prefix: string, i: number): string => `bench.${prefix}.${i}`;

// ---------------------------------------------------------------- brokers

async function start(name: 'ours' | 'rabbitmq', dir: string, timeoutMs: number): Promise<RunningBroker> {
  const port = Number(name === 'ours' ? values.port : values['rabbitmq-port']);
  if (!(await portFree(port))) throw new Error(`port ${port} is in use: pick another with --${name === 'ours' ? 'port' : 'rabbitmq-port'}`);
  await mkdir(dir, { recursive: true });
  const broker =
    name === 'ours'
      ? await startOurs({ port, dataDir: join(dir, 'data'), logFile: join(dir, 'broker.log'), cpus: brokerCpus, timeoutMs })
      : await startRabbitMQ({ port, dir, cpus: brokerCpus, timeoutMs });
  running.add(broker);
  progress(`[${name}] started in ${Math.round(broker.startupMs)} ms (pid ${broker.pid}, port ${port}, ${dir})`);
  return broker;
}

async function stop(broker: RunningBroker, how: 'stop' | 'kill' = 'stop'): Promise<void> {
  running.delete(broker);
  await (how === 'stop' ? broker.stop() : broker.kill());
}

const rssMiB = (broker: RunningBroker): number => round(procMemory(broker.pid).rss / MiB);

async function openClients(broker: RunningBroker, n: number): Promise<RawConnection[]> {
  const conns = await Promise.all(Array.from({ length: n }, () => RawConnection.open(broker.url, { timeoutMs: SHORT_TIMEOUT_MS, product: 'definitions bench' })));
  await Promise.all(conns.map((c) => withTimeout(c.openChannel(1), SHORT_TIMEOUT_MS, 'channel.open')));
  return conns;
}

const closeClients = (conns: readonly RawConnection[]): Promise<unknown> => Promise.allSettled(conns.map((c) => c.close(SHORT_TIMEOUT_MS)));

const declare = (c: RawConnection, queue: string, passive = false) =>
  c.call(1, { id: MethodId.QueueDeclare, queue, passive, durable: true, exclusive: false, autoDelete: false, noWait: false, arguments: {} }, MethodId.QueueDeclareOk);

const bind = (c: RawConnection, queue: string) =>
  c.call(1, { id: MethodId.QueueBind, queue, exchange: 'amq.direct', routingKey: queue, noWait: false, arguments: {} }, MethodId.QueueBindOk);

// ---------------------------------------------------------------- timed operations

interface OpRun {
  /** Operations answered. */
  readonly done: number;
  readonly seconds: number;
  /** ms since the start at which each BLOCK-th operation was answered; [0] = 0. */
  readonly marks: readonly number[];
  readonly stoppedBy: 'count' | 'time limit' | 'error';
  readonly error?: string;
  readonly clientCpuUsPerOp: number;
  readonly brokerCpuUsPerOp: number;
  readonly brokerCpuPct: number;
  /** Share of the run the broker's threads were runnable but waiting for a CPU, summed over them (its own threads queue on its one CPU too). */
  readonly brokerCpuWaitPct: number;
  /** Share of the run the broker's CPU spent on anything but the broker: other work on the machine. */
  readonly otherWorkOnBrokerCpuPct: number;
}

/**
 * Runs `count` operations, op(i) for i = 0…count-1, from every worker at
 * once (each awaiting its own reply before its next), until the count, the
 * phase time limit or the first error; a progress line every BLOCK answers.
 * At the time limit the connections are destroyed, which fails the
 * operations still waiting.
 */
async function runOps(label: string, conns: readonly RawConnection[], op: (c: RawConnection, i: number) => Promise<unknown>, count: number, broker: RunningBroker): Promise<OpRun> {
  let next = 0;
  let done = 0;
  let stoppedBy: OpRun['stoppedBy'] = 'count';
  let error: string | undefined;
  const marks = [0];
  const timer = setTimeout(() => {
    stoppedBy = 'time limit';
    for (const c of conns) c.socket.destroy();
  }, PHASE_TIMEOUT_MS);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const broker0 = procCpuSeconds(broker.pid);
  const wait0 = procRunqueueWaitSeconds(broker.pid);
  const busy0 = procCpusBusySeconds(broker.pid);
  let lastLine = t0;
  const line = (extra: string): void => {
    const now = performance.now();
    lastLine = now;
    const cpu = Math.round(((procCpuSeconds(broker.pid) - broker0) * 100_000) / (now - t0));
    progress(`[${label}] ${round((now - t0) / 1000)} s  ${done}/${count}${extra}  overall ${Math.round((done * 1000) / (now - t0))}/s  broker rss ${rssMiB(broker)} MiB, cpu ${cpu}% since start`);
  };
  // A line at least every 5 s, even when 1,000 operations take longer.
  const ticker = setInterval(() => performance.now() - lastLine >= 5000 && line(''), 1000);
  const work = async (c: RawConnection): Promise<void> => {
    while (stoppedBy === 'count' && next < count) {
      await op(c, next++);
      done++;
      if (done % BLOCK === 0) {
        marks.push(performance.now() - t0);
        const ms = marks[marks.length - 1]! - marks[marks.length - 2]!;
        line(`  last ${BLOCK} in ${Math.round(ms)} ms = ${Math.round((BLOCK * 1000) / ms)}/s`);
      }
    }
  };
  try {
    await Promise.all(
      conns.map((c) =>
        work(c).catch((err: unknown) => {
          // The first failure stops the others; failures after the time limit are its own doing.
          if (stoppedBy !== 'count') return;
          stoppedBy = 'error';
          error = (err as Error).message;
        }),
      ),
    );
  } finally {
    clearTimeout(timer);
    clearInterval(ticker);
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const brokerCpu = procCpuSeconds(broker.pid) - broker0;
  const brokerWait = procRunqueueWaitSeconds(broker.pid) - wait0;
  const otherWork = procCpusBusySeconds(broker.pid) - busy0 - brokerCpu;
  line(stoppedBy === 'count' ? '  done' : `  STOPPED by ${stoppedBy}${error === undefined ? '' : `: ${error}`}`);
  if (stoppedBy !== 'count') warnings.push(`${label}: stopped by ${stoppedBy} after ${done} of ${count}${error === undefined ? '' : ` (${error})`}`);
  return {
    done,
    seconds,
    marks,
    stoppedBy,
    ...(error === undefined ? {} : { error }),
    clientCpuUsPerOp: round((cpu.user + cpu.system) / Math.max(done, 1), 2),
    brokerCpuUsPerOp: round((brokerCpu * 1e6) / Math.max(done, 1), 1),
    brokerCpuPct: Math.round((brokerCpu / seconds) * 100),
    brokerCpuWaitPct: Math.round((brokerWait / seconds) * 100),
    otherWorkOnBrokerCpuPct: Math.max(0, Math.round((otherWork / seconds) * 100)),
  };
}

/** Operations per second between the `from`-th and the `to`-th answer (multiples of BLOCK), or undefined when not reached. */
function windowRate(run: OpRun, from: number, to: number): number | undefined {
  const a = run.marks[from / BLOCK];
  const b = run.marks[to / BLOCK];
  return a === undefined || b === undefined ? undefined : ((to - from) * 1000) / (b - a);
}

/** The rates of a serial run: its windows and overall, and the rate of every block in the detail. */
function recordRates(broker: BrokerName, name: string, what: string, run: OpRun, count: number): void {
  const common = { stoppedBy: run.stoppedBy, reached: run.done, of: count };
  const lastEnd = Math.floor(run.done / BLOCK) * BLOCK;
  const windows: [string, number][] = [
    ...CHECKPOINTS.filter((end) => end <= lastEnd).map((end): [string, number] => [`to_${end}`, end]),
    ...(lastEnd >= WINDOW && !(CHECKPOINTS as readonly number[]).includes(lastEnd) ? [['last_2000', lastEnd] as [string, number]] : []),
  ];
  for (const [suffix, end] of windows) {
    const rate = windowRate(run, end - WINDOW, end)!;
    record({ broker, name: `${name}_${suffix}`, value: Math.round(rate), unit: `${what}/s`, detail: { from: end - WINDOW + 1, to: end, ...common } });
  }
  const blockRates = run.marks.slice(1).map((t, i) => Math.round((BLOCK * 1000) / (t - run.marks[i]!)));
  record({
    broker,
    name: `${name}_overall`,
    value: Math.round(run.done / run.seconds),
    unit: `${what}/s`,
    detail: {
      ...runFigures(run),
      ...common,
      ...(run.error === undefined ? {} : { error: run.error }),
      ratePerBlockOf1000: blockRates,
    },
  });
}

/** The time and CPU figures every overall measurement reports. */
function runFigures(run: OpRun): Record<string, number | undefined> {
  return {
    seconds: round(run.seconds, 2),
    clientCpuUsPerOp: run.clientCpuUsPerOp,
    brokerCpuUsPerOp: run.brokerCpuUsPerOp,
    brokerCpuPct: run.brokerCpuPct,
    brokerCpuWaitPct: run.brokerCpuWaitPct,
    otherWorkOnBrokerCpuPct: run.otherWorkOnBrokerCpuPct,
  };
}

// ---------------------------------------------------------------- phases

/**
 * The client's floor: the same declare loops against the null broker
 * (bench/null-broker.ts answers every declare at once and stores nothing),
 * pinned like the brokers: what the client, Node and loopback TCP cost.
 */
async function floor(): Promise<void> {
  const port = Number(values['null-port']);
  if (!(await portFree(port))) throw new Error(`port ${port} is in use: pick another with --null-port`);
  const broker = await startNullBroker({ port, cpus: brokerCpus });
  running.add(broker);
  try {
    for (const connections of [1, CHANNELS]) {
      const count = FLOOR_OPS;
      const conns = await openClients(broker, connections);
      progress(`-- floor: ${count} declares against the null broker from ${connections} connection(s)`);
      const run = await runOps(`floor declare ${connections}ch`, conns, (c, i) => declare(c, queueName('def', i)), count, broker);
      await closeClients(conns);
      record({
        broker: 'floor',
        name: `declare_${connections}ch_overall`,
        value: Math.round(run.done / run.seconds),
        unit: 'declares/s',
        detail: { connections, seconds: round(run.seconds, 2), clientCpuUsPerOp: run.clientCpuUsPerOp, stoppedBy: run.stoppedBy, reached: run.done, of: count },
      });
    }
  } finally {
    if (running.has(broker)) await stop(broker);
  }
}

/** Phase 2: CHANNELS connections declaring together, on a broker of its own. */
async function parallelDeclares(name: 'ours' | 'rabbitmq', work: string): Promise<void> {
  const broker = await start(name, join(work, `${name}-parallel`), START_TIMEOUT_MS);
  try {
    const conns = await openClients(broker, CHANNELS);
    progress(`-- ${name}: ${PARALLEL_QUEUES} durable queue declares from ${CHANNELS} connections at once`);
    const run = await runOps(`${name} declare ${CHANNELS}ch`, conns, (c, i) => declare(c, queueName('def16', i)), PARALLEL_QUEUES, broker);
    await closeClients(conns);
    const blockRates = run.marks.slice(1).map((t, i) => Math.round((BLOCK * 1000) / (t - run.marks[i]!)));
    record({
      broker: name,
      name: `declare_${CHANNELS}ch_overall`,
      value: Math.round(run.done / run.seconds),
      unit: 'declares/s',
      detail: {
        connections: CHANNELS,
        ...runFigures(run),
        stoppedBy: run.stoppedBy,
        reached: run.done,
        of: PARALLEL_QUEUES,
        ...(run.error === undefined ? {} : { error: run.error }),
        ratePerBlockOf1000: blockRates,
      },
    });
  } finally {
    if (running.has(broker)) await stop(broker);
  }
}

/** The recovery times RabbitMQ logs, from the part of its log written since `offset`. */
async function rabbitLogged(dir: string, offset: number): Promise<Record<string, number>> {
  const file = await rabbitLogFile(dir);
  if (file === undefined) return {};
  const text = (await readFile(file)).subarray(offset).toString('utf8');
  const out: Record<string, number> = {};
  const at = (pattern: RegExp): number | undefined => {
    const m = new RegExp(`^(\\S+ \\S+) \\[\\w+\\] <[^>]*> ${pattern.source}`, 'm').exec(text);
    return m === null ? undefined : Date.parse(m[1]!.replace(' ', 'T').replace(/(\.\d{3})\d*/, '$1'));
  };
  const classic = /Recovering (\d+) queues of type rabbit_classic_queue took (\d+)ms/.exec(text);
  if (classic !== null) out[`Recovering ${classic[1]} queues of type rabbit_classic_queue took (ms)`] = Number(classic[2]);
  const first = at(/.*/);
  const recovery = at(/Running boot step recovery /);
  const routing = at(/Running boot step routing_ready /);
  const listener = at(/started TCP listener/);
  if (recovery !== undefined && routing !== undefined) out['boot step recovery to routing_ready (ms, log timestamps)'] = routing - recovery;
  if (first !== undefined && listener !== undefined) out['first log line to TCP listener (ms, log timestamps)'] = listener - first;
  return out;
}

async function rabbitLogFile(dir: string): Promise<string | undefined> {
  const names = await readdir(join(dir, 'log')).catch(() => [] as string[]);
  const name = names.find((n) => n.endsWith('@localhost.log'));
  return name === undefined ? undefined : join(dir, 'log', name);
}

/** Phases 1 and 3: serial declares and binds on a fresh broker, then a crash and a restart on its data. */
async function serialAndRecovery(name: 'ours' | 'rabbitmq', work: string): Promise<void> {
  const dir = join(work, `${name}-serial`);
  let broker = await start(name, dir, START_TIMEOUT_MS);
  try {
    let [conn] = await openClients(broker, 1);
    progress(`-- ${name}: ${QUEUES} durable queue declares from one channel, each awaiting declare-ok`);
    const declares = await runOps(`${name} declare 1ch`, [conn!], (c, i) => declare(c, queueName('def', i)), QUEUES, broker);
    await closeClients([conn!]);
    recordRates(name, 'declare_1ch', 'declares', declares, QUEUES);
    const declared = declares.done;

    [conn] = await openClients(broker, 1);
    progress(`-- ${name}: binding the ${declared} queues to amq.direct from one channel, each awaiting bind-ok`);
    const binds = await runOps(`${name} bind 1ch`, [conn!], (c, i) => bind(c, queueName('def', i)), declared, broker);
    await closeClients([conn!]);
    recordRates(name, 'bind_1ch', 'bindings', binds, declared);
    const bound = binds.done;

    await sleep(SETTLE_MS);
    const before = procMemory(broker.pid);
    record({ broker: name, name: 'rss_before_kill', value: round(before.rss / MiB), unit: 'MiB', detail: { peakRssMiB: round(before.peakRss / MiB), queues: declared, bindings: bound } });

    progress(`-- ${name}: SIGKILL with ${declared} queues and ${bound} bindings, then a start on the same data`);
    const logFile = name === 'rabbitmq' ? await rabbitLogFile(dir) : undefined;
    const logOffset = logFile === undefined ? 0 : (await stat(logFile)).size;
    await stop(broker, 'kill');
    broker = await start(name, dir, START_TIMEOUT_MS);
    const common = { queues: declared, bindings: bound };
    record({ broker: name, name: 'restart_to_accepting', value: Math.round(broker.startupMs), unit: 'ms', detail: { ...common, what: 'spawn to the first connection.start' } });
    [conn] = await openClients(broker, 1);
    if (declared > 0) await withTimeout(declare(conn!, queueName('def', declared - 1), true), SHORT_TIMEOUT_MS, 'passive declare of the last queue');
    record({
      broker: name,
      name: 'restart_to_last_queue',
      value: Math.round(performance.now() - broker.spawnedAt),
      unit: 'ms',
      detail: { ...common, what: 'spawn to a new connection, channel and passive declare of the last queue answered' },
    });
    await sleep(SETTLE_MS);
    const after = procMemory(broker.pid);
    record({ broker: name, name: 'rss_after_recovery', value: round(after.rss / MiB), unit: 'MiB', detail: { peakRssMiB: round(after.peakRss / MiB), settledMs: SETTLE_MS, ...common } });

    await closeClients([conn!]);
    await verifyBindings(name, broker, bound);
    const conns = await openClients(broker, CHANNELS);
    progress(`-- ${name}: checking the ${declared} queues are back (passive declares from ${CHANNELS} connections)`);
    const check = await runOps(`${name} verify`, conns, (c, i) => declare(c, queueName('def', i), true), declared, broker);
    await closeClients(conns);
    record({ broker: name, name: 'queues_after_recovery', value: check.done, unit: 'queues', detail: { of: declared, stoppedBy: check.stoppedBy, ...(check.error === undefined ? {} : { error: check.error }) } });
    if (check.done !== declared) warnings.push(`${name}: ${check.done} of ${declared} queues answered a passive declare after the restart`);
    // Read last: RabbitMQ's logger writes its file some seconds behind.
    const logged = name === 'ours' ? oursLogged(broker) : await rabbitLogged(dir, logOffset);
    for (const [msg, ms] of Object.entries(logged)) record({ broker: name, name: `logged: ${msg}`, value: ms, unit: 'ms', detail: common });
  } finally {
    if (running.has(broker)) await stop(broker);
  }
}

/** Every line the broker logged before it listened that carries an `ms`. */
function oursLogged(broker: RunningBroker): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of broker.logLines?.() ?? []) {
    if (l.msg === 'broker listening') break;
    if (typeof l['ms'] === 'number' && typeof l.msg === 'string') out[l.msg] = l['ms'];
  }
  return out;
}

/**
 * A sample of the bindings, after the restart: a mandatory transient message
 * through amq.direct with each sampled queue's name as the routing key, on a
 * confirm channel; routed unless a basic.return comes before its basic.ack.
 * (A passive declare's message count is no check on RabbitMQ: its queue
 * answers the declare ahead of deliveries already sent to it.)
 */
async function verifyBindings(name: BrokerName, broker: RunningBroker, bound: number): Promise<void> {
  const sample = Math.min(BINDING_SAMPLE, bound);
  const [conn] = await openClients(broker, 1);
  const c = conn!;
  await withTimeout(c.call(1, { id: MethodId.ConfirmSelect, nowait: false }, MethodId.ConfirmSelectOk), SHORT_TIMEOUT_MS, 'confirm.select');
  let returned = false;
  let settle: (() => void) | undefined;
  c.handler = {
    frame: (type, channel, payload) => {
      if (type !== FrameConstant.FRAME_METHOD || channel !== 1) return false;
      const id = payload.readUInt32BE(0);
      if (id === MethodId.BasicReturn) returned = true;
      else if (id === MethodId.BasicAck || id === MethodId.BasicNack) settle?.();
      else return false;
      return true;
    },
  };
  let routed = 0;
  try {
    for (let k = 0; k < sample; k++) {
      const queue = queueName('def', Math.floor((k * bound) / sample));
      returned = false;
      const confirmed = new Promise<void>((resolve) => (settle = resolve));
      c.write(publishFrames(1, { exchange: 'amq.direct', routingKey: queue, properties: {}, body: Buffer.from('x'), mandatory: true }, c.frameMax));
      await withTimeout(confirmed, SHORT_TIMEOUT_MS, 'publisher confirm');
      if (!returned) routed++;
    }
  } finally {
    await closeClients([c]);
  }
  record({ broker: name, name: 'bindings_sampled_after_recovery', value: routed, unit: 'routed', detail: { sampled: sample, of: bound } });
  if (routed !== sample) warnings.push(`${name}: ${routed} of ${sample} sampled bindings routed after the restart`);
}

// ---------------------------------------------------------------- main

/** Writes definitions-latest.md again from a run's JSON lines (after a change to the report). */
async function rerender(file: string): Promise<void> {
  const [header, ...rest] = (await readFile(file, 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const h = header as unknown as Omit<Parameters<typeof definitionsMarkdown>[0], 'measurements' | 'warnings' | 'rawFile'>;
  const lines = rest.map((l) => {
    const { bench: _bench, ...m } = l;
    return m;
  });
  const measurements = lines.filter((l) => typeof l['name'] === 'string') as unknown as Measurement[];
  const warned = lines.flatMap((l) => (typeof l['warning'] === 'string' ? [l['warning']] : []));
  await writeFile(join(RESULTS, 'definitions-latest.md'), definitionsMarkdown({ ...h, measurements, warnings: warned, rawFile: basename(file) }));
  progress(`wrote ${RESULTS}definitions-latest.md from ${file}`);
}

async function main(): Promise<void> {
  if (values['report-from'] !== undefined) return rerender(values['report-from']);
  const startedAt = new Date();
  const loadBefore = describeMachine().loadAverage;
  // The client on its own CPU, all its threads, as compare.ts runs its generator.
  execFileSync('taskset', ['-a', '-cp', clientCpus, String(process.pid)], { stdio: 'ignore' });
  if (brokerNames.includes('rabbitmq')) ensureRabbitMQ();
  const work = await mkdtemp(join(tmpdir(), 'bench-definitions-'));
  progress(
    `work directory ${work}; brokers ${brokerNames.join(', ')} on CPU ${brokerCpus}, client on CPU ${clientCpus}; ${QUEUES} queues (1 channel), ${PARALLEL_QUEUES} (${CHANNELS} connections); phase limit ${PHASE_TIMEOUT_MS / 1000} s`,
  );
  let failed = false;
  try {
    await floor();
  } catch (err) {
    failed = true;
    warnings.push(`floor failed: ${(err as Error).message}`);
    progress(`ERROR floor failed: ${(err as Error).message}`);
  }
  for (const name of brokerNames) {
    for (const phase of [serialAndRecovery, parallelDeclares]) {
      try {
        await phase(name, work);
      } catch (err) {
        failed = true;
        const message = `${name} ${phase.name} failed: ${(err as Error).message}`;
        warnings.push(message);
        progress(`ERROR ${message}`);
      }
    }
  }

  const versions = brokerNames.includes('rabbitmq') ? { RabbitMQ: packageVersion('rabbitmq-server'), Erlang: packageVersion('erlang-base') } : {};
  const config = { queues: QUEUES, parallelQueues: PARALLEL_QUEUES, channels: CHANNELS, phaseTimeoutS: PHASE_TIMEOUT_MS / 1000, brokers: brokerNames, brokerCpus, clientCpus };
  const machine = { ...describeMachine(), loadBefore };
  const lines = [{ bench: 'definitions', date: startedAt.toISOString(), machine, versions, config }, ...measurements.map((m) => ({ bench: 'definitions', ...m })), ...warnings.map((w) => ({ bench: 'definitions', warning: w }))];
  for (const l of lines.slice(1)) process.stdout.write(`${JSON.stringify(l)}\n`);
  for (const w of warnings) progress(`WARNING: ${w}`);
  await mkdir(RESULTS, { recursive: true });
  const stamp = startedAt.toISOString().slice(0, 19).replace(/:/g, '-');
  const rawFile = `definitions-${stamp}.json`;
  await writeFile(join(RESULTS, rawFile), lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  await writeFile(join(RESULTS, 'definitions-latest.md'), definitionsMarkdown({ date: startedAt.toISOString(), machine, versions, config, measurements, warnings, rawFile }));
  progress(`results written to ${RESULTS}${rawFile} and definitions-latest.md`);
  if (failed || process.env['BENCH_KEEP_DATA'] === '1') progress(`kept ${work} (broker logs and data)`);
  else await rm(work, { recursive: true, force: true });
}

runStoppingBrokers(main, running, (b) => stop(b), progress);
