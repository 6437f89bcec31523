/**
 * One bounded load run against any AMQP URL: declares the topology, opens
 * consumers and publishers on their own connections, publishes until a
 * message count or a time limit, and measures over the part after the
 * warm-up: the rate, the broker's CPU per message and RSS (from /proc, when
 * its pid is known), the generator's own CPU, and latencies when asked.
 */
import { MethodId } from '../../src/protocol/generated/amqp-methods.js';
import { RawConnection } from '../amqp/raw-connection.js';
import { type BrokerSample, brokerWindow, type BrokerWindow, procCpusStolenSeconds, procMemory, procRunqueueWaitSeconds, sampleBroker } from '../proc-stats.js';
import { withTimeout } from '../with-timeout.js';
import { LoadConsumer } from './consumer.js';
import { LatencyRecorder } from './latency-recorder.js';
import { LoadPublisher } from './publisher.js';

const MiB = 1024 * 1024;
const ADMIN_CHANNEL = 1;
const RSS_SAMPLE_MS = 250;

export interface QueueSpec {
  readonly name: string;
  readonly durable: boolean;
  /** Binding keys to the exchange of the topology (none: the queue is reached through the default exchange). */
  readonly bindingKeys: readonly string[];
}

export interface Topology {
  readonly exchange?: { readonly name: string; readonly type: string; readonly durable: boolean };
  readonly queues: readonly QueueSpec[];
}

export interface LoadSpec {
  readonly topology: Topology;
  readonly publishers: number;
  /** Routing keys the publishers cycle through; all the same length. */
  readonly routingKeys: readonly string[];
  readonly bodyBytes: number;
  /** delivery-mode 2. */
  readonly persistent: boolean;
  /** Publisher confirms with at most this many in flight per publisher. */
  readonly confirmWindow?: number;
  /** Consumer connections; the queues are dealt out among them, one channel per queue. */
  readonly consumers: number;
  readonly noAck: boolean;
  readonly prefetch: number;
  readonly ackEvery: number;
  /** Messages per second over all publishers (for latency); unpaced when absent. */
  readonly rate?: number;
  /** Stamp the bodies and report publish-to-delivery latency. */
  readonly latency: boolean;
  /** Messages to publish (over all publishers). */
  readonly count: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** How far publishers may run ahead of the consumers, in messages: keeps the queues short. */
  readonly maxLag: number;
  /** Deliveries each publish makes (the fan-out), to relate consumed to published. */
  readonly deliveriesPerMessage: number;
  /** What the rate counts: deliveries consumed, or publishes confirmed. */
  readonly measure: 'consumed' | 'confirmed';
  readonly timeoutMs: number;
}

export interface LoadResult extends Partial<BrokerWindow> {
  /** Units (deliveries consumed or publishes confirmed) per second over the measured window. */
  readonly rate: number;
  readonly publishRate: number;
  readonly seconds: number;
  readonly published: number;
  readonly consumed: number;
  readonly confirmed: number;
  readonly nacked: number;
  readonly brokerRssMiB?: number;
  readonly brokerMaxRssMiB?: number;
  readonly generatorCpuUsPerMsg: number;
  readonly generatorCpuPct: number;
  readonly generatorCpuWaitPct: number;
  readonly generatorCpuStolenPct: number;
  readonly latencySamples?: number;
  readonly p50Us?: number;
  readonly p99Us?: number;
  readonly p999Us?: number;
}

interface Snapshot {
  readonly t: number;
  readonly units: number;
  readonly published: number;
  readonly broker: BrokerSample;
  readonly generatorCpu: number;
  readonly generatorWait: number;
  readonly generatorStolen: number;
}

const sum = <T>(xs: readonly T[], f: (x: T) => number): number => xs.reduce((n, x) => n + f(x), 0);
const round = (n: number, places = 1): number => Math.round(n * 10 ** places) / 10 ** places;

/**
 * Runs the load. `loaded`, when given, runs after the measured window and
 * before anything is torn down (the queues still full), and its numbers are
 * returned alongside.
 */
export async function runLoad(
  url: URL,
  spec: LoadSpec,
  brokerPid: number | undefined,
  loaded?: () => Promise<Record<string, number>>,
): Promise<LoadResult & Record<string, number>> {
  const admin = await RawConnection.open(url, { timeoutMs: spec.timeoutMs, product: 'bench admin' });
  const opened: { close(timeoutMs: number): Promise<void> }[] = [];
  try {
    await admin.openChannel(ADMIN_CHANNEL);
    await declare(admin, spec.topology);
    const latency = spec.latency ? new LatencyRecorder(spec.count) : undefined;
    const queueNames = spec.topology.queues.map((q) => q.name);
    const consumers = await Promise.all(
      Array.from({ length: spec.consumers }, (_, i) =>
        LoadConsumer.open(url, {
          queues: queueNames.filter((_, q) => q % spec.consumers === i),
          noAck: spec.noAck,
          prefetch: spec.prefetch,
          ackEvery: spec.ackEvery,
          latency,
          timeoutMs: spec.timeoutMs,
        }),
      ),
    );
    opened.push(...consumers);
    const body = Buffer.alloc(spec.bodyBytes, 'x');
    const exchange = spec.topology.exchange?.name ?? '';
    const publishers = await Promise.all(
      Array.from({ length: spec.publishers }, () =>
        LoadPublisher.open(url, {
          messages: spec.routingKeys.map((routingKey) => ({ exchange, routingKey, properties: spec.persistent ? { deliveryMode: 2 } : {}, body })),
          confirms: spec.confirmWindow !== undefined,
          timestamps: spec.latency,
          timeoutMs: spec.timeoutMs,
        }),
      ),
    );
    opened.push(...publishers);

    const consumed = (): number => sum(consumers, (c) => c.consumed);
    const published = (): number => sum(publishers, (p) => p.published);
    const units = spec.measure === 'consumed' ? consumed : (): number => sum(publishers, (p) => p.confirmed);
    const target = spec.measure === 'consumed' ? spec.count * spec.deliveriesPerMessage : spec.count;
    const snapshot = (): Snapshot => {
      const cpu = process.cpuUsage();
      return {
        t: performance.now(),
        units: units(),
        published: published(),
        broker: sampleBroker(brokerPid),
        generatorCpu: (cpu.user + cpu.system) / 1e6,
        generatorWait: procRunqueueWaitSeconds(process.pid),
        generatorStolen: procCpusStolenSeconds(process.pid),
      };
    };
    let maxRss = 0;
    const sampleRss = (): number => {
      const rss = brokerPid === undefined ? NaN : procMemory(brokerPid).rss;
      maxRss = Math.max(maxRss, rss);
      return rss;
    };
    sampleRss();

    const lagBound = spec.consumers > 0 && spec.measure === 'consumed';
    const room = lagBound ? (): number => spec.maxLag - (published() - consumed() / spec.deliveriesPerMessage) : undefined;
    const t0 = performance.now();
    const stopAt = t0 + spec.seconds * 1000;
    let start = snapshot();
    if (latency !== undefined) latency.recording = spec.warmupSeconds === 0;
    let end: Snapshot | undefined;
    let finish = (): void => {};
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const check = (): void => {
      if (end !== undefined) return;
      if (units() >= target || performance.now() >= stopAt) {
        end = snapshot();
        finish();
      }
    };
    for (const c of consumers) {
      c.onProgress = () => {
        check();
        for (const p of publishers) p.pump();
      };
    }
    const timers = [
      setInterval(check, 10),
      setInterval(sampleRss, RSS_SAMPLE_MS),
      setTimeout(() => {
        if (end !== undefined) return;
        start = snapshot();
        if (latency !== undefined) latency.recording = true;
      }, spec.warmupSeconds * 1000),
    ];
    const perPublisher = (i: number): number => Math.floor(spec.count / spec.publishers) + (i < spec.count % spec.publishers ? 1 : 0);
    const publishing = Promise.all(
      publishers.map((p, i) =>
        p.publish(
          {
            count: perPublisher(i),
            stopAt,
            ...(spec.confirmWindow === undefined ? {} : { window: spec.confirmWindow }),
            ...(spec.rate === undefined ? {} : { rate: spec.rate / spec.publishers }),
            ...(room === undefined ? {} : { room }),
          },
          spec.timeoutMs,
        ),
      ),
    );
    // Errors after the measured window (connections closed under a publisher still waiting for confirms) do not matter.
    publishing.catch(() => {});
    const failed = new Promise<never>((_, reject) => {
      for (const c of consumers) c.conn.onFailure((err) => end === undefined && reject(err));
    });
    try {
      await withTimeout(Promise.race([finished, failed, publishing.then(check)]).then(() => finished), spec.timeoutMs, `the load (${units()} of ${target})`);
    } finally {
      timers.forEach((t) => clearTimeout(t));
    }
    const e = end ?? snapshot();
    const rss = sampleRss();
    const extra = loaded === undefined ? {} : await loaded();

    const seconds = (e.t - start.t) / 1000;
    const measured = e.units - start.units;
    const generatorCpu = e.generatorCpu - start.generatorCpu;
    const [p50, p99, p999] = latency?.percentilesUs([50, 99, 99.9]) ?? [];
    return {
      rate: Math.round(measured / seconds),
      publishRate: Math.round((e.published - start.published) / seconds),
      seconds: round(seconds, 2),
      published: published(),
      consumed: consumed(),
      confirmed: sum(publishers, (p) => p.confirmed),
      nacked: sum(publishers, (p) => p.nacked),
      ...(brokerPid === undefined
        ? {}
        : {
            ...brokerWindow(start.broker, e.broker, seconds, measured),
            brokerRssMiB: round(rss / MiB),
            brokerMaxRssMiB: round(maxRss / MiB),
          }),
      generatorCpuUsPerMsg: round((generatorCpu * 1e6) / measured, 2),
      generatorCpuPct: Math.round((generatorCpu / seconds) * 100),
      generatorCpuWaitPct: Math.round(((e.generatorWait - start.generatorWait) / seconds) * 100),
      generatorCpuStolenPct: Math.round(((e.generatorStolen - start.generatorStolen) / seconds) * 100),
      ...(latency === undefined ? {} : { latencySamples: latency.count, p50Us: Math.round(p50!), p99Us: Math.round(p99!), p999Us: Math.round(p999!) }),
      ...extra,
    };
  } finally {
    await Promise.all(opened.map((c) => c.close(5000)));
    await teardown(admin, spec.topology, spec.timeoutMs).catch(() => {});
    await admin.close(5000);
  }
}

/** Declares the exchange and fresh queues (anything left by an aborted run is deleted first) and binds them. */
async function declare(admin: RawConnection, topology: Topology): Promise<void> {
  const ch = ADMIN_CHANNEL;
  const x = topology.exchange;
  if (x !== undefined) {
    await admin.call(
      ch,
      { id: MethodId.ExchangeDeclare, exchange: x.name, type: x.type, passive: false, durable: x.durable, autoDelete: false, internal: false, noWait: false, arguments: {} },
      MethodId.ExchangeDeclareOk,
    );
  }
  for (const q of topology.queues) {
    await admin.call(ch, { id: MethodId.QueueDelete, queue: q.name, ifUnused: false, ifEmpty: false, noWait: false }, MethodId.QueueDeleteOk);
    await admin.call(
      ch,
      { id: MethodId.QueueDeclare, queue: q.name, passive: false, durable: q.durable, exclusive: false, autoDelete: false, noWait: false, arguments: {} },
      MethodId.QueueDeclareOk,
    );
    for (const key of q.bindingKeys) {
      await admin.call(ch, { id: MethodId.QueueBind, queue: q.name, exchange: x!.name, routingKey: key, noWait: false, arguments: {} }, MethodId.QueueBindOk);
    }
  }
}

async function teardown(admin: RawConnection, topology: Topology, timeoutMs: number): Promise<void> {
  for (const q of topology.queues) {
    await withTimeout(
      admin.call(ADMIN_CHANNEL, { id: MethodId.QueueDelete, queue: q.name, ifUnused: false, ifEmpty: false, noWait: false }, MethodId.QueueDeleteOk),
      timeoutMs,
      `queue.delete ${q.name}`,
    );
  }
  const x = topology.exchange;
  if (x !== undefined) await admin.call(ADMIN_CHANNEL, { id: MethodId.ExchangeDelete, exchange: x.name, ifUnused: false, noWait: false }, MethodId.ExchangeDeleteOk);
}
