import type * as amqp from 'amqplib';
import t from 'tap';
import { assertChannelRefusal, brokerChannel, connect, openChannel, queueExists, withBroker } from '../support/broker.js';

t.test("another connection's exclusive queue is 405 RESOURCE_LOCKED for every queue operation", async (t) => {
  const broker = await withBroker(t);
  const owner = await connect(t, broker);
  const other = await connect(t, broker);
  const mine = await owner.createChannel();
  await mine.assertQueue('excl', { exclusive: true });
  await mine.bindQueue('excl', 'amq.direct', 'k');
  const operations: [string, (ch: amqp.Channel) => Promise<unknown>][] = [
    ['declare', (ch) => ch.assertQueue('excl', { exclusive: true })],
    ['declare non-exclusive', (ch) => ch.assertQueue('excl')],
    ['passive declare', (ch) => ch.checkQueue('excl')],
    ['bind', (ch) => ch.bindQueue('excl', 'amq.direct', 'k2')],
    ['unbind', (ch) => ch.unbindQueue('excl', 'amq.direct', 'k')],
    ['consume', (ch) => ch.consume('excl', () => {})],
    ['get', (ch) => ch.get('excl')],
    ['purge', (ch) => ch.purgeQueue('excl')],
    ['delete', (ch) => ch.deleteQueue('excl')],
  ];
  for (const [what, op] of operations) {
    const ch = await openChannel(other);
    t.comment(what);
    await assertChannelRefusal(t, other, op(ch), 405, "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'excl' in vhost '/'");
  }
  // None of that touched the queue: it still routes and its owner uses it.
  mine.publish('amq.direct', 'k', Buffer.from('m'));
  t.same(await mine.checkQueue('excl'), { queue: 'excl', messageCount: 1, consumerCount: 0 });
});

t.test('an exclusive queue is deleted when its connection closes', async (t) => {
  const broker = await withBroker(t);
  const owner = await connect(t, broker);
  const other = await connect(t, broker);
  await (await owner.createChannel()).assertQueue('excl', { exclusive: true });
  t.ok(await queueExists(owner, 'excl'));
  await owner.close();
  t.notOk(await queueExists(other, 'excl'), 'gone once the close completed');
  const ch = await other.createChannel();
  t.same(await ch.assertQueue('excl', { exclusive: true }), { queue: 'excl', messageCount: 0, consumerCount: 0 }, 'the name is free again');
});

t.test('an auto-delete queue is deleted when its last consumer goes, not before it had one', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  await channel.assertQueue('ad', { autoDelete: true });
  t.ok(await queueExists(connection, 'ad'), 'no consumer yet: stays');
  const first = await channel.consume('ad', () => {});
  const second = await channel.consume('ad', () => {});
  await channel.cancel(first.consumerTag);
  t.ok(await queueExists(connection, 'ad'), 'one consumer left');
  await channel.cancel(second.consumerTag);
  t.notOk(await queueExists(connection, 'ad'), 'gone after the last cancel');

  await channel.assertQueue('ad', { autoDelete: true });
  const consumerChannel = await connection.createChannel();
  await consumerChannel.consume('ad', () => {});
  await consumerChannel.close();
  t.notOk(await queueExists(connection, 'ad'), "gone when the consumer's channel closes");
});

t.test('queue.purge answers with the number of messages removed', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  await channel.assertQueue('q');
  for (let i = 0; i < 3; i++) channel.sendToQueue('q', Buffer.from(`m${i}`));
  t.same(await channel.purgeQueue('q'), { messageCount: 3 });
  t.same(await channel.purgeQueue('q'), { messageCount: 0 });
  const ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.purgeQueue('missing'), 404, "NOT_FOUND - no queue 'missing' in vhost '/'");
});

t.test('queue.delete answers with the message count and honours if-unused and if-empty', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  await channel.assertQueue('q');
  channel.sendToQueue('q', Buffer.from('a'));
  channel.sendToQueue('q', Buffer.from('b'));
  let ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.deleteQueue('q', { ifEmpty: true }), 406, "PRECONDITION_FAILED - queue 'q' in vhost '/' not empty");
  const consumerChannel = await connection.createChannel();
  await consumerChannel.prefetch(1);
  await consumerChannel.consume('q', () => {}, { noAck: false });
  ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.deleteQueue('q', { ifUnused: true }), 406, "PRECONDITION_FAILED - queue 'q' in vhost '/' in use");
  // Closing the consumer's channel returns its unacknowledged message to the queue.
  await consumerChannel.close();
  t.same(await channel.deleteQueue('q', { ifUnused: true }), { messageCount: 2 });
  t.notOk(await queueExists(connection, 'q'));
  t.same(await channel.deleteQueue('q'), { messageCount: 0 }, 'deleting a missing queue succeeds');
  t.same(await channel.deleteQueue('q', { ifUnused: true, ifEmpty: true }), { messageCount: 0 });
});

t.test("an empty queue name means the channel's last declared queue", async (t) => {
  const { connection, channel } = await brokerChannel(t);
  await channel.assertQueue('last', { exclusive: true });
  await channel.bindQueue('', 'amq.direct', 'k');
  // No queue and no routing key: the key is the queue's name.
  await channel.bindQueue('', 'amq.direct', '');
  channel.publish('amq.direct', 'k', Buffer.from('by key'));
  channel.publish('amq.direct', 'last', Buffer.from('by name'));
  channel.publish('amq.direct', '', Buffer.from('by empty key'));
  const got = await channel.get('', { noAck: true });
  t.equal(got && got.content.toString(), 'by key');
  t.same(await channel.purgeQueue(''), { messageCount: 1 }, 'only "by name" was left');
  await channel.unbindQueue('', 'amq.direct', 'k');
  channel.publish('amq.direct', 'k', Buffer.from('unbound'));
  t.equal((await channel.checkQueue('last')).messageCount, 0, 'unbound from k');
  const { consumerTag } = await channel.consume('', () => {});
  t.equal((await channel.checkQueue('last')).consumerCount, 1, 'consuming from it');
  await channel.cancel(consumerTag);
  t.same(await channel.deleteQueue(''), { messageCount: 0 });
  t.notOk(await queueExists(connection, 'last'));
});

t.test('an empty queue name before any declare is 404 on the channel', async (t) => {
  const { connection } = await brokerChannel(t);
  const operations: [string, (ch: amqp.Channel) => Promise<unknown>][] = [
    ['bind', (ch) => ch.bindQueue('', 'amq.direct', 'k')],
    ['consume', (ch) => ch.consume('', () => {})],
    ['get', (ch) => ch.get('')],
    ['purge', (ch) => ch.purgeQueue('')],
    ['delete', (ch) => ch.deleteQueue('')],
  ];
  for (const [what, op] of operations) {
    const ch = await openChannel(connection);
    t.comment(what);
    await assertChannelRefusal(t, connection, op(ch), 404, 'NOT_FOUND - no previously declared queue');
  }
});
