import * as amqp from 'amqplib';
import t from 'tap';
import { type Broker, startBroker } from '../../src/index.js';
import { within } from '../support/broker.js';
import { CrashFs } from '../support/crash-fs.js';
import { txCommit, txSelect } from '../support/channel-methods.js';
import { tempDataDir } from '../support/data-dir.js';

// tx.commit-ok promises the transaction is done: for persistent messages in a
// durable queue that means on disk, so a power loss right after commit-ok
// must not lose them. The disk here forgets everything not fdatasynced.

async function connect(broker: Broker): Promise<amqp.ChannelModel> {
  const c = await amqp.connect(broker.url);
  c.on('error', () => {});
  return c;
}

t.test('a committed transaction of persistent messages survives a power loss right after commit-ok', async (t) => {
  const disk = new CrashFs();
  // A disk slower than the network: a commit-ok sent before the sync would arrive first.
  disk.syncDelayMs = 200;
  const dataDir = tempDataDir(t, 'durable-tx-');
  const boot = (): Promise<Broker> => startBroker({ dataDir, storeFs: disk.mount(), logLevel: 'silent' });
  let broker = await boot();
  const connection = await connect(broker);
  const ch = await connection.createChannel();
  await ch.assertQueue('tx-durable', { durable: true });
  await txSelect(ch);
  for (let i = 0; i < 20; i++) ch.sendToQueue('tx-durable', Buffer.from(`m${i}`), { persistent: true });
  await txCommit(ch);
  // Power goes out the moment commit-ok arrives: whatever was not synced is gone.
  disk.crash(false);
  await within(broker.close(), 10_000, 'the broker on the dead disk closes');
  await connection.close().catch(() => {});

  broker = await boot();
  t.teardown(() => broker.close());
  const after = await connect(broker);
  t.teardown(() => after.close().catch(() => {}));
  const check = await after.createChannel();
  t.equal((await check.checkQueue('tx-durable')).messageCount, 20, 'every committed message is on disk');
});

t.test('commands sent right behind a durable tx.commit are answered after commit-ok, in order', async (t) => {
  const broker = await startBroker({ dataDir: tempDataDir(t, 'durable-tx-order-'), logLevel: 'silent' });
  t.teardown(() => broker.close());
  const connection = await connect(broker);
  t.teardown(() => connection.close().catch(() => {}));
  const ch = await connection.createChannel();
  await ch.assertQueue('tx-order', { durable: true });
  await txSelect(ch);
  ch.sendToQueue('tx-order', Buffer.from('x'), { persistent: true });
  // Not awaited in between: amqplib fails the channel if replies come out of order.
  const [, declared] = await Promise.all([txCommit(ch), ch.checkQueue('tx-order')]);
  t.equal(declared.messageCount, 1, 'the declare behind the commit sees the committed message');
});
