import * as amqp from 'amqplib';
import t, { type Test } from 'tap';
import { type Broker, startBroker } from '../../src/index.js';
import { within } from '../support/broker.js';
import { CrashFs } from '../support/crash-fs.js';
import { MethodId } from '../../src/protocol/generated/amqp-methods.js';
import { txCommit, txSelect } from '../support/channel-methods.js';
import { tempDataDir } from '../support/data-dir.js';
import { RawClient } from '../support/raw-client.js';

// tx.commit-ok promises the transaction is done: for persistent messages in a
// durable queue that means on disk, so a power loss right after commit-ok
// must not lose them. The disk here forgets everything not fdatasynced.

async function connect(broker: Broker): Promise<amqp.ChannelModel> {
  const c = await amqp.connect(broker.url);
  c.on('error', () => {});
  return c;
}

/**
 * Runs `work` on a broker whose disk is slower than the network (a commit-ok
 * sent before the sync would arrive first), cuts the power the moment it
 * returns, boots again and returns how many messages wait in `queue`.
 */
async function waitingAfterPowerLoss(t: Test, queue: string, work: (connection: amqp.ChannelModel) => Promise<void>): Promise<number> {
  const disk = new CrashFs();
  disk.syncDelayMs = 200;
  const dataDir = tempDataDir(t, 'durable-tx-');
  const boot = (): Promise<Broker> => startBroker({ dataDir, storeFs: disk.mount(), logLevel: 'silent' });
  let broker = await boot();
  const connection = await connect(broker);
  await work(connection);
  disk.crash(false);
  await within(broker.close(), 10_000, 'the broker on the dead disk closes');
  await connection.close().catch(() => {});

  broker = await boot();
  t.teardown(() => broker.close());
  const after = await connect(broker);
  t.teardown(() => after.close().catch(() => {}));
  return (await (await after.createChannel()).checkQueue(queue)).messageCount;
}

t.test('a committed transaction of persistent messages survives a power loss right after commit-ok', async (t) => {
  const waiting = await waitingAfterPowerLoss(t, 'tx-durable', async (connection) => {
    const ch = await connection.createChannel();
    await ch.assertQueue('tx-durable', { durable: true });
    await txSelect(ch);
    for (let i = 0; i < 20; i++) ch.sendToQueue('tx-durable', Buffer.from(`m${i}`), { persistent: true });
    await txCommit(ch);
  });
  t.equal(waiting, 20, 'every committed message is on disk');
});

t.test('acks committed in a transaction stay done after a power loss right after commit-ok', async (t) => {
  const waiting = await waitingAfterPowerLoss(t, 'tx-acks', async (connection) => {
    const publisher = await connection.createConfirmChannel();
    await publisher.assertQueue('tx-acks', { durable: true });
    for (let i = 0; i < 10; i++) publisher.sendToQueue('tx-acks', Buffer.from(`m${i}`), { persistent: true });
    await publisher.waitForConfirms();
    const ch = await connection.createChannel();
    await txSelect(ch);
    for (let i = 0; i < 10; i++) {
      const m = await ch.get('tx-acks');
      if (m !== false) ch.ack(m);
    }
    await txCommit(ch);
  });
  t.equal(waiting, 0, 'no acked message comes back');
});

t.test('commands sent right behind a durable tx.commit are answered after commit-ok, in order', async (t) => {
  // A slow disk and a raw client (amqplib waits for each reply before its next request, so it cannot pipeline).
  const disk = new CrashFs();
  disk.syncDelayMs = 200;
  const broker = await startBroker({ dataDir: tempDataDir(t, 'durable-tx-order-'), storeFs: disk.mount(), logLevel: 'silent' });
  t.teardown(() => broker.close());
  const setup = await connect(broker);
  t.teardown(() => setup.close().catch(() => {}));
  await (await setup.createChannel()).assertQueue('tx-order', { durable: true });

  const raw = await commitPersistent(t, broker.port, 'tx-order', 'x');
  raw.method(1, { id: MethodId.QueueDeclare, queue: 'tx-order', passive: true, durable: false, exclusive: false, autoDelete: false, noWait: false, arguments: {} });
  t.equal((await raw.next(5000)).method?.id, MethodId.TxCommitOk, 'commit-ok first');
  const declared = (await raw.next(5000)).method;
  t.equal(declared?.id, MethodId.QueueDeclareOk, 'then the reply to the command behind it');
  t.equal(declared?.id === MethodId.QueueDeclareOk && declared.messageCount, 1, 'which sees the committed message');
});

t.test('a channel.close or a dropped connection behind a waiting durable commit leaves nothing behind', async (t) => {
  const disk = new CrashFs();
  disk.syncDelayMs = 200;
  const broker = await startBroker({ dataDir: tempDataDir(t, 'durable-tx-close-'), storeFs: disk.mount(), logLevel: 'silent' });
  t.teardown(() => broker.close());
  const observer = await connect(broker);
  t.teardown(() => observer.close().catch(() => {}));
  const admin = await observer.createChannel();
  await admin.assertQueue('tx-close', { durable: true });

  // Pipelined: commit, then close. commit-ok must come before close-ok, as in RabbitMQ.
  const raw = await commitPersistent(t, broker.port, 'tx-close', 'a');
  raw.method(1, { id: MethodId.ChannelClose, replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 });
  t.equal((await raw.next(5000)).method?.id, MethodId.TxCommitOk, 'commit-ok first');
  t.equal((await raw.next(5000)).method?.id, MethodId.ChannelCloseOk, 'then close-ok');

  // Dropped: the connection goes while the commit waits with a consume held behind it.
  const dropped = await commitPersistent(t, broker.port, 'tx-close', 'b');
  dropped.method(1, { id: MethodId.BasicConsume, queue: 'tx-close', consumerTag: '', noLocal: false, noAck: true, exclusive: false, noWait: false, arguments: {} });
  await new Promise((resolve) => setTimeout(resolve, 20));
  dropped.destroy();
  // Past the slow sync: the held consume would have run by now.
  await new Promise((resolve) => setTimeout(resolve, 500));

  const q = await admin.checkQueue('tx-close');
  t.equal(q.consumerCount, 0, 'no consumer is left on a channel that is gone');
  t.equal(q.messageCount, 2, 'both committed messages wait in the queue');
});

/** A raw client that publishes one persistent message in a transaction on channel 1 and sends tx.commit without waiting. */
async function commitPersistent(t: Test, port: number, queue: string, body: string): Promise<RawClient> {
  const client = await RawClient.open(t, port);
  await client.openChannel(1);
  client.method(1, { id: MethodId.TxSelect });
  await client.expectMethod(MethodId.TxSelectOk, 1);
  client.publish(1, queue, Buffer.from(body), { deliveryMode: 2 });
  client.method(1, { id: MethodId.TxCommit });
  return client;
}
