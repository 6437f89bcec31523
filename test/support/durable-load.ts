import * as amqp from 'amqplib';
import type { Test } from 'tap';
import { collect, delay, within } from './broker.js';

/**
 * Traffic for the crash tests: publishers with confirms into a durable topic
 * exchange `lx` bound to the durable queues `la` (every message; consumed and
 * acked while the broker runs) and `lb` (one message in four; only drained at
 * the end), and a ledger of what was published, confirmed and delivered, to
 * check after the broker died. What `la` acks leaves the journal's older
 * segments mostly garbage, so compaction runs under the load too.
 */
export const QUEUES = ['la', 'lb'] as const;
type QueueName = (typeof QUEUES)[number];

const numberOf = (id: string): number => Number(id.split('.').at(-1));
const routingKeyOf = (id: string): string => (numberOf(id) % 4 === 0 ? 'kept' : 'passing');
const BINDING_KEYS: Record<QueueName, string> = { la: '#', lb: 'kept' };
const routesTo = (queue: QueueName, id: string): boolean => queue === 'la' || routingKeyOf(id) === 'kept';

export interface Ledger {
  readonly published: Set<string>;
  readonly confirmed: Set<string>;
  /** Ids delivered from each queue, over every life of the broker. */
  readonly seen: Record<QueueName, Set<string>>;
  readonly damaged: string[];
}

export const newLedger = (): Ledger => ({ published: new Set(), confirmed: new Set(), seen: { la: new Set(), lb: new Set() }, damaged: [] });

/** What a message with this id carries: the id, then padding of a size the id decides (one in sixteen is large). */
function bodyOf(id: string): Buffer {
  const n = numberOf(id);
  return Buffer.from(`${id}:`.padEnd(n % 16 === 15 ? 40_000 : 20 + (n % 7) * 100, 'x'));
}

function record(ledger: Ledger, queue: QueueName, m: amqp.Message): void {
  const id = String(m.properties.messageId);
  if (!m.content.equals(bodyOf(id))) ledger.damaged.push(`${queue}: ${id}`);
  ledger.seen[queue].add(id);
}

const url = (port: number): string => `amqp://guest:guest@127.0.0.1:${port}`;

export async function declareTopology(port: number): Promise<void> {
  const connection = await amqp.connect(url(port));
  const ch = await connection.createChannel();
  await ch.assertExchange('lx', 'topic', { durable: true });
  for (const q of QUEUES) {
    await ch.assertQueue(q, { durable: true });
    await ch.bindQueue(q, 'lx', BINDING_KEYS[q]);
  }
  await connection.close();
}

/** A connection that closes quietly when the broker dies; undefined when the broker died first. */
async function tryConnect(port: number): Promise<{ connection: amqp.ChannelModel; closed: Promise<void> } | undefined> {
  try {
    const connection = await amqp.connect(url(port));
    connection.on('error', () => {});
    return { connection, closed: new Promise((resolve) => connection.once('close', () => resolve())) };
  } catch {
    return undefined;
  }
}

export interface LoadOptions {
  readonly publishers: number;
  /** Messages each publisher sends before it closes (if the broker lives that long). */
  readonly perPublisher: number;
  /** Unconfirmed publishes each publisher allows itself. */
  readonly window: number;
}

/** Publishes persistent messages with confirms, ids `${prefix}.${n}`, until the quota is sent or the broker dies. */
async function publisher(port: number, prefix: string, options: LoadOptions, ledger: Ledger): Promise<void> {
  const c = await tryConnect(port);
  if (c === undefined) return;
  let open = true;
  void c.closed.then(() => (open = false));
  try {
    const channel = await c.connection.createConfirmChannel();
    channel.on('error', () => {});
    let inflight = 0;
    for (let n = 0; n < options.perPublisher && open; n++) {
      while (inflight >= options.window && open) await delay(1);
      const id = `${prefix}.${n}`;
      ledger.published.add(id);
      inflight++;
      channel.publish('lx', routingKeyOf(id), bodyOf(id), { persistent: true, messageId: id }, (err: unknown) => {
        inflight--;
        if (err === null || err === undefined) ledger.confirmed.add(id);
      });
      if (n % 4 === 3) await delay(1);
    }
  } catch {
    // The broker died under us.
  }
  // amqplib's close() never settles if the broker dies before its close-ok: the 'close' event does.
  if (open) await Promise.race([c.connection.close().catch(() => {}), c.closed]);
}

/** Consumes and acks `la` until the broker dies or `stop` resolves. */
async function consumer(port: number, ledger: Ledger, stop: Promise<void>): Promise<void> {
  const c = await tryConnect(port);
  if (c === undefined) return;
  try {
    const channel = await c.connection.createChannel();
    channel.on('error', () => {});
    await channel.prefetch(32);
    await channel.consume('la', (m) => {
      if (m === null) return;
      record(ledger, 'la', m);
      try {
        channel.ack(m);
      } catch {
        // The channel is gone: the message comes back after the restart.
      }
    });
  } catch {
    // The broker died under us.
  }
  await Promise.race([c.closed, stop]);
  await Promise.race([c.connection.close().catch(() => {}), c.closed]);
}

/**
 * Starts the publishers and the consumer on a broker. Publishers stop by
 * themselves (quota sent or broker gone); `stop()` ends the consumer and
 * resolves when every client is done, naming any that hangs.
 */
export function startLoad(port: number, name: string, options: LoadOptions, ledger: Ledger): { publishersDone: Promise<void>; stop(): Promise<void> } {
  let stopConsumer = (): void => {};
  const stopped = new Promise<void>((resolve) => (stopConsumer = resolve));
  const pending = new Set<string>();
  const track = (client: string, run: Promise<void>): Promise<void> => {
    pending.add(client);
    return run.finally(() => pending.delete(client));
  };
  const publishers = Array.from({ length: options.publishers }, (_, p) => track(`publisher ${p}`, publisher(port, `${name}.${p}`, options, ledger)));
  const clients = [track('consumer', consumer(port, ledger, stopped)), ...publishers];
  return {
    publishersDone: Promise.all(publishers).then(() => {}),
    async stop() {
      stopConsumer();
      await within(Promise.all(clients), 10_000, `${name}: clients finish`).catch((err: Error) => {
        throw new Error(`${err.message}; still running: ${[...pending].join(', ')}`);
      });
    },
  };
}

/** Takes every message left in the queues, without acks. */
export async function drainAll(port: number, ledger: Ledger): Promise<void> {
  const connection = await amqp.connect(url(port));
  const channel = await connection.createChannel();
  for (const queue of QUEUES) {
    const { messageCount } = await channel.checkQueue(queue);
    if (messageCount > 0) for (const m of await collect(channel, queue, messageCount, { noAck: true }, 30_000)) record(ledger, queue, m);
  }
  await connection.close();
}

/** The checks every crash test makes: nothing confirmed is missing, nothing unpublished or damaged appears. */
export function checkLedger(t: Test, ledger: Ledger): void {
  t.comment(`published ${ledger.published.size}, confirmed ${ledger.confirmed.size}, delivered from la ${ledger.seen.la.size}, from lb ${ledger.seen.lb.size}`);
  t.ok(ledger.confirmed.size > 0, 'some publishes were confirmed');
  for (const queue of QUEUES) {
    const missing = [...ledger.confirmed].filter((id) => routesTo(queue, id) && !ledger.seen[queue].has(id));
    t.same(missing.slice(0, 20), [], `every confirmed message reached ${queue} (${missing.length} missing)`);
    const unknown = [...ledger.seen[queue]].filter((id) => !ledger.published.has(id) || !routesTo(queue, id));
    t.same(unknown.slice(0, 20), [], `nothing unpublished came out of ${queue}`);
  }
  t.same(ledger.damaged.slice(0, 20), [], 'every delivered body is intact');
}
