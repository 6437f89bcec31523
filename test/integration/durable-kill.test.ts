import * as amqp from 'amqplib';
import t from 'tap';
import { collect, delay, within } from '../support/broker.js';
import { startBrokerProcess, tempDataDir } from '../support/data-dir.js';
import { faultRounds, faultSeed, seeded } from '../support/seeded-random.js';

// The broker process killed with SIGKILL at random moments while publishers
// with confirms and acking consumers work on it: after each restart on the
// same data directory, no confirmed message is missing and none appears that
// was never published. `npm run test:fault` runs more rounds.

const ROUNDS = faultRounds(4);
const SEED = faultSeed();
const PUBLISHERS = 3;
const PER_ROUND = 600;
const WINDOW = 64;

/** What every message id must carry: its id, then padding of a size the id decides (one in sixteen is large). */
function bodyOf(id: string): Buffer {
  const n = Number(id.split('.')[2]);
  return Buffer.from(`${id}:`.padEnd(n % 16 === 15 ? 40_000 : 20 + (n % 7) * 100, 'x'));
}

interface Ledger {
  readonly published: Set<string>;
  readonly confirmed: Set<string>;
  /** Ids delivered from each queue, over every round. */
  readonly seen: Record<'ka' | 'kb', Set<string>>;
  readonly damaged: string[];
}

function record(ledger: Ledger, queue: 'ka' | 'kb', m: amqp.Message): void {
  const id = String(m.properties.messageId);
  if (!m.content.equals(bodyOf(id))) ledger.damaged.push(`${queue}: ${id}`);
  ledger.seen[queue].add(id);
}

/** A connection that closes quietly when the broker dies; undefined when the broker died first. */
async function tryConnect(port: number): Promise<{ connection: amqp.ChannelModel; closed: Promise<void> } | undefined> {
  try {
    const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
    connection.on('error', () => {});
    return { connection, closed: new Promise((resolve) => connection.once('close', () => resolve())) };
  } catch {
    return undefined;
  }
}

/** Publishes persistent messages with confirms, at most WINDOW unconfirmed, until the round's quota or the broker's death. */
async function publisher(port: number, round: number, p: number, ledger: Ledger): Promise<void> {
  const c = await tryConnect(port);
  if (c === undefined) return;
  let open = true;
  void c.closed.then(() => (open = false));
  try {
    const channel = await c.connection.createConfirmChannel();
    channel.on('error', () => {});
    let inflight = 0;
    for (let n = 0; n < PER_ROUND && open; n++) {
      while (inflight >= WINDOW && open) await delay(1);
      const id = `${round}.${p}.${n}`;
      ledger.published.add(id);
      inflight++;
      channel.publish('kx', '', bodyOf(id), { persistent: true, messageId: id }, (err: unknown) => {
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

/** Consumes and acks `ka` until the broker dies. */
async function consumer(port: number, ledger: Ledger): Promise<void> {
  const c = await tryConnect(port);
  if (c === undefined) return;
  try {
    const channel = await c.connection.createChannel();
    channel.on('error', () => {});
    await channel.prefetch(32);
    await channel.consume('ka', (m) => {
      if (m === null) return;
      record(ledger, 'ka', m);
      try {
        channel.ack(m);
      } catch {
        // The channel is gone: the message comes back after the restart.
      }
    });
  } catch {
    // The broker died under us.
  }
  await c.closed;
}

t.test(`SIGKILL at random moments loses no confirmed message (${ROUNDS} rounds, FAULT_SEED=${SEED})`, async (t) => {
  const random = seeded(SEED);
  const dataDir = tempDataDir(t, 'durable-kill-');
  const ledger: Ledger = { published: new Set(), confirmed: new Set(), seen: { ka: new Set(), kb: new Set() }, damaged: [] };

  for (let round = 0; round < ROUNDS; round++) {
    const broker = await startBrokerProcess(t, dataDir);
    if (round === 0) {
      const setup = await amqp.connect(`amqp://guest:guest@127.0.0.1:${broker.port}`);
      const ch = await setup.createChannel();
      await ch.assertExchange('kx', 'fanout', { durable: true });
      for (const q of ['ka', 'kb']) {
        await ch.assertQueue(q, { durable: true });
        await ch.bindQueue(q, 'kx', '');
      }
      await setup.close();
    }
    const pending = new Set(['consumer', ...Array.from({ length: PUBLISHERS }, (_, p) => `publisher ${p}`)]);
    const track = (name: string, run: Promise<void>): Promise<void> => run.finally(() => pending.delete(name));
    const clients = [track('consumer', consumer(broker.port, ledger)), ...Array.from({ length: PUBLISHERS }, (_, p) => track(`publisher ${p}`, publisher(broker.port, round, p, ledger)))];
    await delay(20 + random() * 400);
    broker.child.kill('SIGKILL');
    // The next broker needs the data directory: the LOCK names this process until it is gone.
    await within(broker.exited, 10_000, 'the killed broker exits');
    await within(Promise.all(clients), 10_000, `round ${round}: the clients notice the broker is gone`).catch((err: Error) => {
      throw new Error(`${err.message}; still running: ${[...pending].join(', ')}`);
    });
  }

  const broker = await startBrokerProcess(t, dataDir);
  const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${broker.port}`);
  const channel = await connection.createChannel();
  for (const queue of ['ka', 'kb'] as const) {
    const { messageCount } = await channel.checkQueue(queue);
    if (messageCount > 0) for (const m of await collect(channel, queue, messageCount, { noAck: true }, 30_000)) record(ledger, queue, m);
  }
  await connection.close();
  broker.child.kill('SIGTERM');
  t.equal(await within(broker.exited, 10_000, 'the last broker exits'), 0, 'the last broker shuts down cleanly');

  t.comment(`published ${ledger.published.size}, confirmed ${ledger.confirmed.size}, delivered from ka ${ledger.seen.ka.size}, from kb ${ledger.seen.kb.size}`);
  t.ok(ledger.confirmed.size > 0, 'some publishes were confirmed');
  for (const queue of ['ka', 'kb'] as const) {
    const missing = [...ledger.confirmed].filter((id) => !ledger.seen[queue].has(id));
    t.same(missing.slice(0, 20), [], `every confirmed message reached ${queue} (${missing.length} missing)`);
    const unknown = [...ledger.seen[queue]].filter((id) => !ledger.published.has(id));
    t.same(unknown.slice(0, 20), [], `nothing unpublished came out of ${queue}`);
  }
  t.same(ledger.damaged.slice(0, 20), [], 'every delivered body is intact');
});
