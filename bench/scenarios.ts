/**
 * The named scenarios of the comparison with RabbitMQ (issue 5), each a
 * bounded run against an AMQP URL that yields one flat record (printed as
 * one JSON line). `value` is the scenario's headline number, in `unit`;
 * `rate` is always there too. Counts and times shrink with `scale` for
 * quick runs.
 */
import { type CLatencySpec, runCLatency } from './latency-c/c-latency.js';
import { idleConnections } from './load/idle-connections.js';
import { type LoadSpec, runLoad, type Topology } from './load/run-load.js';
import { procMemory } from './proc-stats.js';
import { sleep } from './with-timeout.js';

export type ScenarioRecord = Readonly<Record<string, number | string | boolean>>;

export interface ScenarioContext {
  readonly url: URL;
  /** The broker's pid, for CPU and RSS from /proc. */
  readonly pid: number | undefined;
  /** Multiplies message counts and times (1 for the full run). */
  readonly scale: number;
  /** Overrides applied to the load spec (the generator's command-line flags). */
  readonly overrides?: Partial<LoadSpec>;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** The headline number's unit. */
  readonly unit: string;
  /** Run by the comparison runner, which starts the broker itself. */
  readonly runnerOnly?: boolean;
  /** A memory measurement: the runner runs it first, before other load has grown the broker's heap. */
  readonly freshBroker?: boolean;
  run(ctx: ScenarioContext): Promise<ScenarioRecord>;
}

const TIMEOUT_MS = 180_000;
const MiB = 1024 * 1024;

const singleQueue = (name: string, durable: boolean): Topology => ({ queues: [{ name, durable, bindingKeys: [] }] });

/** One publisher and one consumer on the default exchange, unpaced, the queue kept short. */
function pointToPoint(queue: string, bodyBytes: number, manualAck: boolean): Omit<LoadSpec, 'count' | 'seconds'> {
  return {
    topology: singleQueue(queue, false),
    publishers: 1,
    routingKeys: [queue],
    bodyBytes,
    persistent: false,
    consumers: 1,
    noAck: !manualAck,
    prefetch: manualAck ? 100 : 0,
    ackEvery: 1,
    latency: false,
    warmupSeconds: 1,
    maxLag: 10_000,
    deliveriesPerMessage: 1,
    measure: 'consumed',
    timeoutMs: TIMEOUT_MS,
  };
}

/** One publisher with confirms into a durable queue nobody consumes: the rate of confirmed persistent publishes. */
function confirmed(window: number): Omit<LoadSpec, 'count' | 'seconds'> {
  return {
    topology: singleQueue('bench.persistent', true),
    publishers: 1,
    routingKeys: ['bench.persistent'],
    bodyBytes: 1024,
    persistent: true,
    confirmWindow: window,
    consumers: 0,
    noAck: true,
    prefetch: 0,
    ackEvery: 1,
    latency: false,
    warmupSeconds: 1,
    maxLag: Infinity,
    deliveriesPerMessage: 1,
    measure: 'confirmed',
    timeoutMs: TIMEOUT_MS,
  };
}

/**
 * latency-1k-rate's load, the same for its two generators; `seconds` is the
 * whole run, warm-up included. A longer warm-up than the throughput runs':
 * a tail is read from the steady state, after both brokers' first seconds
 * of compiling their hot paths; 20 s measured give 20,000 samples, 200 of
 * them past p99.
 */
const LATENCY = { queue: 'bench.latency', bodyBytes: 1024, rate: 1000, seconds: 23, warmupSeconds: 3 } as const;
/** Shorter runs (a smaller scale) shorten the warm-up with them, to at most half the run. */
const warmupFor = (wanted: number, seconds: number): number => Math.min(wanted, seconds / 2);

/** The C generator's run: latency-1k-rate's load with the overrides it understands. */
function cLatencySpec(ctx: ScenarioContext): CLatencySpec {
  const { rate = LATENCY.rate, bodyBytes = LATENCY.bodyBytes, seconds = Math.max(2, LATENCY.seconds * ctx.scale), warmupSeconds = warmupFor(LATENCY.warmupSeconds, seconds), timeoutMs = TIMEOUT_MS, ...rest } = ctx.overrides ?? {};
  const unsupported = Object.entries(rest).filter(([, v]) => v !== undefined);
  if (unsupported.length > 0) throw new Error(`the C generator takes only rate, size and seconds, not ${unsupported.map(([k]) => k).join(', ')}`);
  if (seconds <= warmupSeconds) throw new Error(`seconds (${seconds}) must be more than the ${warmupSeconds} s warm-up`);
  return { rate, bodyBytes, seconds: seconds - warmupSeconds, warmupSeconds, queue: LATENCY.queue, timeoutMs };
}

const FANOUT_QUEUES = 10;
const TOPIC_BINDINGS = 100;
/** Binding patterns of every kind (literal, *, #), each matching exactly one of the published keys. */
const topicPattern = (i: number, k: string): string => [`bench.${k}.x`, `*.${k}.x`, `bench.${k}.*`, `#.${k}.x`][i % 4]!;
const topicKey = (i: number): string => `k${String(i).padStart(3, '0')}`;

/** A load scenario: the spec with count and time scaled, overrides applied. */
function load(name: string, description: string, base: Omit<LoadSpec, 'count' | 'seconds'>, count: number, seconds: number): Scenario {
  return {
    name,
    description,
    unit: base.measure === 'confirmed' ? 'msg/s confirmed' : base.deliveriesPerMessage > 1 ? 'deliveries/s' : 'msg/s',
    async run(ctx) {
      const scaled: LoadSpec = { ...base, count: Math.ceil(count * ctx.scale), seconds: Math.max(2, seconds * ctx.scale), ...ctx.overrides };
      const spec: LoadSpec = { ...scaled, warmupSeconds: warmupFor(scaled.warmupSeconds, scaled.seconds) };
      const r = await runLoad(ctx.url, spec, ctx.pid);
      return { value: r.rate, ...r };
    },
  };
}

const scenarioList: readonly Scenario[] = [
  load('transient-16b-autoack', '16 B transient, 1 publisher, 1 consumer, autoAck', pointToPoint('bench.transient', 16, false), 20_000_000, 8),
  load('transient-1k-autoack', '1 KiB transient, 1 publisher, 1 consumer, autoAck', pointToPoint('bench.transient', 1024, false), 20_000_000, 8),
  load('transient-16b-manual-ack', '16 B transient, manual ack of every message, prefetch 100', pointToPoint('bench.transient', 16, true), 20_000_000, 8),
  load('transient-1k-manual-ack', '1 KiB transient, manual ack of every message, prefetch 100', pointToPoint('bench.transient', 1024, true), 20_000_000, 8),
  load('persistent-1k-confirm-1000', '1 KiB persistent into a durable queue, confirms, 1000 in flight', confirmed(1000), 1_000_000, 8),
  load('persistent-1k-confirm-100', '1 KiB persistent into a durable queue, confirms, 100 in flight', confirmed(100), 1_000_000, 8),
  load(
    'fanout-10',
    '16 B transient to a fanout exchange bound to 10 queues, a consumer connection per queue, autoAck',
    {
      ...pointToPoint('', 16, false),
      topology: {
        exchange: { name: 'bench.fanout', type: 'fanout', durable: false },
        queues: Array.from({ length: FANOUT_QUEUES }, (_, i) => ({ name: `bench.fanout.${i}`, durable: false, bindingKeys: [''] })),
      },
      routingKeys: [''],
      consumers: FANOUT_QUEUES,
      maxLag: 2_000,
      deliveriesPerMessage: FANOUT_QUEUES,
    },
    2_000_000,
    8,
  ),
  load(
    'topic-100-bindings',
    '16 B transient to a topic exchange with 100 bindings (literal, *, #) on 100 queues, each message matching one; 10 consumer connections, autoAck',
    {
      ...pointToPoint('', 16, false),
      topology: {
        exchange: { name: 'bench.topic', type: 'topic', durable: false },
        queues: Array.from({ length: TOPIC_BINDINGS }, (_, i) => ({ name: `bench.topic.${i}`, durable: false, bindingKeys: [topicPattern(i, topicKey(i))] })),
      },
      routingKeys: Array.from({ length: TOPIC_BINDINGS }, (_, i) => `bench.${topicKey(i)}.x`),
      consumers: 10,
    },
    20_000_000,
    8,
  ),
  load(
    'latency-1k-rate',
    '1 KiB transient at a fixed 1000 msg/s, 1 publisher, 1 consumer, autoAck: publish-to-delivery latency',
    { ...pointToPoint(LATENCY.queue, LATENCY.bodyBytes, false), rate: LATENCY.rate, latency: true, warmupSeconds: LATENCY.warmupSeconds },
    1_000_000,
    LATENCY.seconds,
  ),
  {
    name: 'latency-1k-rate-c',
    description: 'latency-1k-rate measured by the C generator on librabbitmq (bench/latency-c/): busy-polling, a few µs per message',
    unit: 'msg/s',
    async run(ctx) {
      const r = await runCLatency(ctx.url, cLatencySpec(ctx), ctx.pid);
      return { value: r['rate'] ?? NaN, ...r };
    },
  },
  {
    name: 'idle-connections-1000',
    description: '1000 idle connections (handshake done, heartbeat 60 s, no channel): broker RSS growth per connection',
    unit: 'KiB/connection',
    freshBroker: true,
    async run(ctx) {
      const r = await idleConnections(ctx.url, Math.max(50, Math.round(1000 * Math.min(1, ctx.scale * 4))), ctx.pid, TIMEOUT_MS);
      return { value: r.rssPerConnectionKiB ?? NaN, ...r };
    },
  },
  {
    name: 'waiting-1m-16b',
    description: '1M transient 16 B messages waiting in one non-durable queue (published with confirms, 1000 in flight): broker RSS',
    unit: 'MiB RSS',
    freshBroker: true,
    async run(ctx) {
      const messages = Math.ceil(1_000_000 * ctx.scale);
      const before = ctx.pid === undefined ? NaN : procMemory(ctx.pid).rss;
      const spec: LoadSpec = { ...confirmed(1000), topology: singleQueue('bench.waiting', false), routingKeys: ['bench.waiting'], bodyBytes: 16, persistent: false, count: messages, seconds: 150, ...ctx.overrides };
      const r = await runLoad(ctx.url, spec, ctx.pid, async () => {
        // Let the broker finish what the publishes left (garbage collection, paging) before reading its memory.
        await sleep(3000);
        return ctx.pid === undefined ? {} : { settledRss: procMemory(ctx.pid).rss };
      });
      const { settledRss, ...rest } = r;
      if (settledRss === undefined) return { value: NaN, messages, ...rest };
      return {
        value: Math.round((settledRss / MiB) * 10) / 10,
        messages,
        ...rest,
        brokerRssMiB: Math.round((settledRss / MiB) * 10) / 10,
        bytesPerMessage: Math.round((settledRss - before) / messages),
      };
    },
  },
  {
    name: 'startup-time',
    description: 'process start to the first connection.start on a fresh, empty data directory',
    unit: 'ms',
    runnerOnly: true,
    run() {
      return Promise.reject(new Error('startup-time is measured by the comparison runner (npm run bench), which starts the brokers'));
    },
  },
];

export const SCENARIOS: ReadonlyMap<string, Scenario> = new Map(scenarioList.map((s) => [s.name, s]));
