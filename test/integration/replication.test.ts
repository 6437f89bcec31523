import * as amqp from 'amqplib';
import t from 'tap';
import { collect, connect, eventually } from '../support/broker.js';
import { startPair, startPairWithChannel } from '../support/replication.js';

const persistent = { persistent: true };

t.test('confirmed messages and definitions reach the standby, which serves them once promoted', async (t) => {
  const { primary, standby, connection, ch } = await startPairWithChannel(t);
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

t.test('what queues do by themselves is mirrored: expiry and dead-lettering, delayed messages, purges, deletions', async (t) => {
  const { primary, standby, ch } = await startPairWithChannel(t);
  await ch.assertExchange('dlx', 'fanout', { durable: true });
  await ch.assertQueue('dead', { durable: true });
  await ch.bindQueue('dead', 'dlx', '');
  await ch.assertQueue('short-lived', { durable: true, arguments: { 'x-message-ttl': 50, 'x-dead-letter-exchange': 'dlx' } });
  await ch.assertExchange('later', 'x-delayed-message', { durable: true, arguments: { 'x-delayed-type': 'direct' } });
  await ch.assertQueue('delayed', { durable: true });
  await ch.bindQueue('delayed', 'later', 'k');
  await ch.assertQueue('purged', { durable: true });
  await ch.assertQueue('deleted', { durable: true });
  for (let i = 0; i < 5; i++) {
    ch.sendToQueue('short-lived', Buffer.from(`ttl${i}`), persistent);
    ch.publish('later', 'k', Buffer.from(`held${i}`), { ...persistent, headers: { 'x-delay': 60_000 } });
    ch.sendToQueue('purged', Buffer.from(`p${i}`), persistent);
    ch.sendToQueue('deleted', Buffer.from(`d${i}`), persistent);
  }
  await ch.waitForConfirms();
  await eventually(async () => (await ch.checkQueue('dead')).messageCount === 5, 10_000, 'the expired messages are dead-lettered');
  await ch.purgeQueue('purged');
  await ch.deleteQueue('deleted');
  await ch.waitForConfirms();
  await primary.close();

  await standby.promote(false);
  const after = await connect(t, standby);
  const check = await after.createChannel();
  t.equal((await check.checkQueue('short-lived')).messageCount, 0, 'the expired messages left their queue');
  const dead = await collect(check, 'dead', 5);
  t.same(dead.map((m) => m.content.toString()), ['ttl0', 'ttl1', 'ttl2', 'ttl3', 'ttl4'], 'and are in the dead-letter queue, in order');
  t.equal(dead[0]!.properties.headers?.['x-death']?.[0]?.reason, 'expired', 'with their x-death');
  t.equal((await check.checkQueue('purged')).messageCount, 0, 'the purge');
  await t.rejects(check.checkQueue('deleted'), /NOT_FOUND/, 'the deletion');
  const stats = standby.exchangeStats('/', 'later');
  t.equal(stats?.messagesDelayed, 5, 'the delayed messages wait on the promoted node');
});
