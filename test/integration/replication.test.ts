import * as amqp from 'amqplib';
import t from 'tap';
import { collect, connect, connectionClosed, eventually, within } from '../support/broker.js';
import { startPair } from '../support/replication.js';

const persistent = { persistent: true };

t.test('confirmed messages and definitions reach the standby, which serves them once promoted', async (t) => {
  const { primary, standby } = await startPair(t);
  const connection = await connect(t, primary);
  const ch = await connection.createConfirmChannel();
  await ch.assertExchange('orders', 'topic', { durable: true });
  await ch.assertQueue('eu', { durable: true });
  await ch.bindQueue('eu', 'orders', 'eu.#');
  for (let i = 0; i < 100; i++) ch.publish('orders', 'eu.fr', Buffer.from(`m${i}`), persistent);
  await ch.waitForConfirms();
  // Half of them consumed and acked on the primary: they must not come back on the standby.
  const consumer = await connection.createChannel();
  await consumer.prefetch(50);
  const taken = await collect(consumer, 'eu', 50, { noAck: false });
  for (const m of taken) consumer.ack(m);
  await consumer.close();
  await ch.waitForConfirms();
  await primary.close();

  t.match(await standby.promote(false), /Promoted to primary in epoch 2/);
  const after = await connect(t, standby);
  const ch2 = await after.createChannel();
  const { messageCount } = await ch2.checkQueue('eu');
  t.equal(messageCount, 50, 'the 50 unacked messages are there, the acked ones are not');
  const left = await collect(ch2, 'eu', 50);
  t.same(left.map((m) => m.content.toString()), Array.from({ length: 50 }, (_, i) => `m${i + 50}`), 'in order');
  await ch2.close();
  const ch3 = await after.createChannel();
  ch3.publish('orders', 'eu.de', Buffer.from('routed'));
  t.equal((await collect(ch3, 'eu', 1))[0]!.content.toString(), 'routed', 'the binding came along');
});

t.test('a standby refuses clients, naming its primary', async (t) => {
  const { primary, standby } = await startPair(t);
  const error = await amqp.connect(standby.url).then(
    () => undefined,
    (err: Error) => err,
  );
  t.match(error?.message, /CONNECTION_FORCED - this node is a standby; the primary is 127\.0\.0\.1:\d+/);
  t.equal(primary.role, 'primary');
  t.equal(standby.role, 'standby');
});
