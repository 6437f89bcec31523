import * as amqp from 'amqplib';
import t from 'tap';
import { type Broker, startBroker } from '../../src/index.js';
import { within } from '../support/broker.js';
import { CrashFs } from '../support/crash-fs.js';
import { seeded } from '../support/seeded-random.js';

// A power loss at every disk change of a workload that declares, binds,
// publishes across many small segments, drains and deletes a queue (so
// segments are retired and deleted) and declares again: every boot after it
// must start (no false refusal of a journal a crash left) and hold every
// definition and message whose reply or confirm was sent.

const DATA_DIR = '/data';
/** Small segments: a snapshot, a few records, and the next segment starts. */
const SEGMENT_SIZE = 2048;

interface Promised {
  queues: Set<string>;
  deleted: Set<string>;
  messages: Map<string, Set<string>>;
}

async function workload(broker: Broker, promised: Promised): Promise<void> {
  const connection = await amqp.connect(broker.url);
  connection.on('error', () => {});
  try {
    const ch = await connection.createConfirmChannel();
    ch.on('error', () => {});
    for (const name of ['a', 'b', 'gone']) {
      await ch.assertQueue(name, { durable: true });
      await ch.bindQueue(name, 'amq.direct', name);
      promised.queues.add(name);
      promised.messages.set(name, new Set());
    }
    // In bursts, so that one commit spans several segments.
    for (let burst = 0; burst < 3; burst++) {
      const confirmed: Promise<void>[] = [];
      for (let i = 0; i < 12; i++) {
        const queue = i % 3 === 0 ? 'gone' : i % 3 === 1 ? 'a' : 'b';
        const body = `${queue}-${burst}-${i}`.padEnd(300, '.');
        confirmed.push(
          new Promise<void>((resolve, reject) =>
            ch.publish('amq.direct', queue, Buffer.from(body), { persistent: true }, (err) => {
              if (err) return reject(err as Error);
              promised.messages.get(queue)!.add(body);
              resolve();
            }),
          ),
        );
      }
      await Promise.all(confirmed);
    }
    await ch.purgeQueue('a');
    // From the moment the delete is sent, the queue may or may not be there.
    promised.queues.delete('gone');
    await ch.deleteQueue('gone');
    promised.deleted.add('gone');
    await ch.assertQueue('late', { durable: true });
    promised.queues.add('late');
  } finally {
    await connection.close().catch(() => {});
  }
}

/** What a boot after the crash holds, against what was promised before it. */
async function problemsAfter(broker: Broker, promised: Promised): Promise<string[]> {
  const problems: string[] = [];
  const vhost = broker.virtualHost('/')!;
  for (const name of promised.queues) if (!vhost.queues.has(name)) problems.push(`queue ${name} declared, gone`);
  for (const name of promised.deleted) if (vhost.queues.has(name)) problems.push(`queue ${name} deleted, back`);
  const connection = await amqp.connect(broker.url);
  try {
    const ch = await connection.createChannel();
    const b = new Set<string>();
    if (vhost.queues.has('b')) for (let m = await ch.get('b', { noAck: true }); m !== false; m = await ch.get('b', { noAck: true })) b.add(m.content.toString());
    for (const body of promised.messages.get('b') ?? []) if (!b.has(body)) problems.push(`message ${body.slice(0, 6)} confirmed, lost`);
  } finally {
    await connection.close();
  }
  return problems;
}

t.test('a power loss at every disk change of a definitions and messages workload: every boot starts and keeps its promises', async (t) => {
  const dry = new CrashFs();
  const boot = (disk: CrashFs): Promise<Broker> => startBroker({ dataDir: DATA_DIR, storeFs: disk.mount(), segmentSize: SEGMENT_SIZE, compactionLookMs: 0, logLevel: 'silent' });
  const dryBroker = await boot(dry);
  const before = dry.changes;
  await workload(dryBroker, { queues: new Set(), deleted: new Set(), messages: new Map() });
  const changes = dry.changes - before;
  await dryBroker.close();
  t.ok(changes > 50, `the workload makes ${changes} disk changes`);

  const problems: string[] = [];
  for (let point = 1; point <= changes; point++) {
    for (const [seed, keep] of [[1, false], [2, true]] as const) {
      const disk = new CrashFs(seeded(seed * 10_000 + point));
      const broker = await boot(disk);
      const promised: Promised = { queues: new Set(), deleted: new Set(), messages: new Map() };
      const crashed = disk.crashAt(point, keep);
      await Promise.race([crashed, workload(broker, promised).catch(() => {})]);
      await within(broker.close(), 10_000, 'the broker on the dead disk closes');
      const where = `crash at change ${point} (seed ${seed}, keep ${keep})`;
      let next: Broker;
      try {
        next = await boot(disk);
      } catch (err) {
        problems.push(`${where}: no start: ${(err as Error).message}`);
        continue;
      }
      for (const p of await problemsAfter(next, promised)) problems.push(`${where}: ${p}`);
      await next.close();
    }
  }
  t.same(problems, []);
});

t.test('a power loss at every disk change of a first start: the next start works', async (t) => {
  const boot = (disk: CrashFs): Promise<Broker> => startBroker({ dataDir: DATA_DIR, storeFs: disk.mount(), logLevel: 'silent' });
  const dry = new CrashFs();
  await (await boot(dry)).close();
  const changes = dry.changes;
  const problems: string[] = [];
  for (let point = 1; point <= changes; point++) {
    for (const [seed, keep] of [[1, false], [2, true]] as const) {
      const disk = new CrashFs(seeded(seed * 10_000 + point));
      const crashed = disk.crashAt(point, keep);
      const first = await boot(disk).catch(() => undefined);
      await crashed;
      await first?.close();
      const next = await boot(disk).catch((err: Error) => err);
      if (next instanceof Error) problems.push(`crash at change ${point} (seed ${seed}): ${next.message}`);
      else await next.close();
    }
  }
  t.ok(changes > 5, `a first start makes ${changes} disk changes`);
  t.same(problems, []);
});
