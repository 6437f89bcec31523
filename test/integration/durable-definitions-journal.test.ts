import * as amqp from 'amqplib';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { type Broker, startBroker } from '../../src/index.js';
import { Encoder } from '../../src/protocol/encoder.js';
import { MethodId } from '../../src/protocol/generated/amqp-methods.js';
import { writeMessageRecord } from '../../src/store/journal-record.js';
import { Segment } from '../../src/store/segment.js';
import { encodeSegmentHeader, SegmentKind } from '../../src/store/segment-header.js';
import { exchangeExists, queueExists, within } from '../support/broker.js';
import { CrashFs } from '../support/crash-fs.js';
import { tempDataDir } from '../support/data-dir.js';
import { RawClient } from '../support/raw-client.js';

// Durable exchanges, queues and bindings are records in the journal: a
// declare, delete or bind is answered only once its record is on disk, and
// the journal alone says what exists after a restart.

async function connect(t: Test, broker: Broker): Promise<amqp.ChannelModel> {
  const c = await amqp.connect(broker.url);
  c.on('error', () => {});
  t.teardown(() => c.close().catch(() => {}));
  return c;
}

/** A broker on a disk slower than the network, so a reply sent before its fdatasync would arrive first. */
function slowDisk(t: Test): { boot(): Promise<Broker>; disk: CrashFs } {
  const disk = new CrashFs();
  disk.syncDelayMs = 200;
  const dataDir = tempDataDir(t, 'definitions-journal-');
  return { disk, boot: () => startBroker({ dataDir, storeFs: disk.mount(), logLevel: 'silent' }) };
}

/** Cuts the power the moment `work` returns, boots again and returns a connection to the new broker. */
async function afterPowerLoss(t: Test, setup: { boot(): Promise<Broker>; disk: CrashFs }, broker: Broker): Promise<amqp.ChannelModel> {
  setup.disk.crash(false);
  await within(broker.close(), 10_000, 'the broker on the dead disk closes');
  const next = await setup.boot();
  t.teardown(() => next.close());
  return connect(t, next);
}

t.test('durable declares, bindings and deletes answered before a power loss are there after it', async (t) => {
  const setup = slowDisk(t);
  const broker = await setup.boot();
  const ch = await (await connect(t, broker)).createConfirmChannel();
  await ch.assertExchange('orders', 'topic', { durable: true });
  await ch.assertQueue('eu-orders', { durable: true });
  await ch.assertQueue('gone', { durable: true });
  await ch.bindQueue('eu-orders', 'orders', 'eu.*');
  await ch.deleteQueue('gone');
  const after = await afterPowerLoss(t, setup, broker);

  t.ok(await exchangeExists(after, 'orders'), 'the exchange declared before the power loss');
  t.ok(await queueExists(after, 'eu-orders'), 'the queue declared before it');
  t.notOk(await queueExists(after, 'gone'), 'the queue deleted before it stays deleted');
  const pub = await after.createConfirmChannel();
  pub.publish('orders', 'eu.paris', Buffer.from('routed'), { persistent: true });
  await pub.waitForConfirms();
  t.equal((await pub.checkQueue('eu-orders')).messageCount, 1, 'and the binding routes');
});

t.test('a reply held for the disk keeps its place: commands behind a durable declare are answered after it', async (t) => {
  const setup = slowDisk(t);
  const broker = await setup.boot();
  t.teardown(() => broker.close());
  const raw = await RawClient.open(t, broker.port);
  await raw.openChannel(1);
  raw.method(1, { id: MethodId.ExchangeDeclare, exchange: 'held', type: 'fanout', passive: false, durable: true, autoDelete: false, internal: false, noWait: false, arguments: {} });
  raw.method(1, { id: MethodId.BasicQos, prefetchSize: 0, prefetchCount: 10, global: false });
  t.equal((await raw.next(5000)).method?.id, MethodId.ExchangeDeclareOk, 'declare-ok first');
  t.equal((await raw.next(5000)).method?.id, MethodId.BasicQosOk, 'then the reply to the command behind it');
});

t.test('thousands of durable queues and bindings come back after a restart, under their own names and ids', async (t) => {
  const dataDir = tempDataDir(t, 'definitions-many-');
  let broker = await startBroker({ dataDir, logLevel: 'silent', segmentSize: 64 * 1024 });
  const ch = await (await connect(t, broker)).createConfirmChannel();
  const count = 2000;
  await Promise.all(Array.from({ length: count }, (_, i) => ch.assertQueue(`q${i}`, { durable: true })));
  await Promise.all(Array.from({ length: count }, (_, i) => ch.bindQueue(`q${i}`, 'amq.direct', `k${i}`)));
  // Deleted ones must stay deleted even though older segments' snapshots list them.
  await Promise.all(Array.from({ length: count / 10 }, (_, i) => ch.deleteQueue(`q${i * 10}`)));
  for (let i = 1; i < count; i += 100) ch.publish('amq.direct', `k${i}`, Buffer.from(`m${i}`), { persistent: true });
  await ch.waitForConfirms();
  await broker.close();

  broker = await startBroker({ dataDir, logLevel: 'silent', segmentSize: 64 * 1024 });
  t.teardown(() => broker.close());
  const vhost = broker.virtualHost('/')!;
  t.equal(vhost.queues.size, count - count / 10, 'every queue not deleted');
  t.notOk(vhost.queues.has('q10'), 'a deleted one is gone');
  t.equal(broker.exchangeStats('/', 'amq.direct')?.bindings, count - count / 10, 'every binding of a queue still there');
  const after = await (await connect(t, broker)).createChannel();
  const m = await after.get('q101', { noAck: true });
  t.equal(m && m.content.toString(), 'm101', 'messages are back in their queues');
  t.equal((await after.checkQueue('q102')).messageCount, 0);
});

t.test('a data directory an earlier version wrote is imported from its definitions.json, which is renamed aside, not deleted', async (t) => {
  const dataDir = tempDataDir(t, 'definitions-legacy-');
  const queue = { vhost: '/', name: 'old-queue', id: 1, autoDelete: false, arguments: 'AAAAAA==' };
  const binding = { vhost: '/', source: 'amq.fanout', destination: 'old-queue', destinationKind: 'queue', routingKey: '', arguments: 'AAAAAA==' };
  writeFileSync(join(dataDir, 'definitions.json'), JSON.stringify({ version: 1, nextQueueId: 2, exchanges: [], queues: [queue], bindings: [binding] }));
  let broker = await startBroker({ dataDir, logLevel: 'silent' });
  t.ok(broker.virtualHost('/')!.queues.has('old-queue'), 'the queue the file listed');
  t.notOk(existsSync(join(dataDir, 'definitions.json')), 'the file is read once');
  t.ok(existsSync(join(dataDir, 'definitions.json.imported')), 'and kept beside, renamed');
  await broker.close();
  broker = await startBroker({ dataDir, logLevel: 'silent' });
  t.teardown(() => broker.close());
  t.ok(broker.virtualHost('/')!.queues.has('old-queue'), 'after the next restart it comes from the journal');
  t.equal(broker.exchangeStats('/', 'amq.fanout')?.bindings, 1);
});

t.test('a truncated definitions.json of an earlier version stops the start, naming the file, and changes nothing', async (t) => {
  const dataDir = tempDataDir(t, 'definitions-legacy-bad-');
  const path = join(dataDir, 'definitions.json');
  writeFileSync(path, '{"version":1,"nextQueueId":2,"exchanges":[');
  await t.rejects(startBroker({ dataDir, logLevel: 'silent' }), { message: new RegExp(`${path} is not valid JSON`) });
  t.equal(readFileSync(path, 'utf8'), '{"version":1,"nextQueueId":2,"exchanges":[', 'the file is untouched');
});

t.test('a journal with messages but no snapshot of the definitions refuses to start and deletes nothing', async (t) => {
  // What an earlier version left when its definitions.json was deleted: message segments, nothing naming their queues.
  const dataDir = tempDataDir(t, 'definitions-missing-');
  const journalDir = join(dataDir, 'journal');
  mkdirSync(journalDir);
  const e = new Encoder();
  e.buf.fill(0);
  const header = encodeSegmentHeader(SegmentKind.Messages, 1);
  for (let seq = 1; seq <= 3; seq++) writeMessageRecord(e, { epoch: 1, seq, queueIds: [1], exchange: '', routingKey: 'q', rawProperties: Buffer.from([0, 0]), body: Buffer.from(`m${seq}`) });
  const segment = Buffer.concat([header, e.take()]);
  writeFileSync(join(journalDir, Segment.fileName(1, 'msgs')), segment);

  await t.rejects(startBroker({ dataDir, logLevel: 'silent' }), { name: 'MissingDefinitionsError', message: new RegExp(`journal in ${journalDir} has 1 segment`) });
  t.same(readdirSync(journalDir), [Segment.fileName(1, 'msgs')], 'no file is added or removed');
  t.same(readFileSync(join(journalDir, Segment.fileName(1, 'msgs'))), segment, 'the segment is untouched');

  const forced = await startBroker({ dataDir, logLevel: 'silent', forceRecover: true });
  t.teardown(() => forced.close());
  t.equal(forced.virtualHost('/')!.queues.size, 0, 'with forceRecover it starts empty');
  const aside = readdirSync(dataDir).filter((n) => n.startsWith('journal.unmatched-'));
  t.equal(aside.length, 1, 'the old journal moved aside');
  t.same(readFileSync(join(dataDir, aside[0]!, Segment.fileName(1, 'msgs'))), segment, 'with its segment whole');
});

t.test('an auto-delete exchange kept alive by a transient binding comes back with the durable bindings made after its last durable one went', async (t) => {
  const dataDir = tempDataDir(t, 'definitions-autodelete-');
  let broker = await startBroker({ dataDir, logLevel: 'silent' });
  const connection = await connect(t, broker);
  const ch = await connection.createChannel();
  await ch.assertExchange('ax', 'direct', { durable: true, autoDelete: true });
  await ch.assertQueue('q1', { durable: true });
  await ch.assertQueue('q2', { durable: true });
  const { queue: exclusive } = await ch.assertQueue('', { exclusive: true });
  await ch.bindQueue(exclusive, 'ax', 'k');
  await ch.bindQueue('q1', 'ax', 'k');
  // The exclusive queue's binding keeps ax alive when q1 goes; replaying the journal must not delete it then.
  await ch.deleteQueue('q1');
  await ch.bindQueue('q2', 'ax', 'k');
  await broker.close();

  broker = await startBroker({ dataDir, logLevel: 'silent' });
  t.teardown(() => broker.close());
  t.same(broker.exchangeStats('/', 'ax')?.bindings, 1, 'the exchange is back with its one durable binding');
});
