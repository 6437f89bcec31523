import t from 'tap';
import { collect, delay, eventually, queueExists } from '../../test/support/broker.js';
import { fill, refusal, refusedWith, removeAfter, session, target, unique } from './support.js';

// queue.purge and queue.delete.

t.test('[queue.purge/02] purge leaves delivered, unacknowledged messages alone', async (t) => {
  const to = await target(t);
  const { connection, channel } = await session(t, to);
  const queue = unique('purge-unacked');
  removeAfter(t, to, { queues: [queue] });
  await channel.assertQueue(queue, { durable: false });
  await fill(channel, queue, ['m0', 'm1', 'm2', 'm3', 'm4']);
  const consumer = await connection.createChannel();
  await consumer.prefetch(2);
  const held = await collect(consumer, queue, 2, { noAck: false });
  const purged = await channel.purgeQueue(queue);
  t.equal(purged.messageCount, 3, 'only the three ready messages are purged');
  await consumer.close();
  await eventually(async () => (await channel.checkQueue(queue)).messageCount === 2, 2000, 'the two unacknowledged come back');
  t.equal(held.length, 2);
});

t.test('[queue.purge.queue/queue-known] [queue.delete.queue/queue-known] an empty queue name purges or deletes the queue last declared on the channel', async (t) => {
  const to = await target(t);
  const { connection, channel } = await session(t, to);
  const { queue } = await channel.assertQueue(unique('last'), { exclusive: true });
  await fill(channel, queue, ['m0', 'm1', 'm2']);
  t.equal((await channel.purgeQueue('')).messageCount, 3, 'purge-ok counts the last declared queue');
  await channel.deleteQueue('');
  t.notOk(await queueExists(connection, queue), 'delete removed the last declared queue');
  t.equal(await refusedWith(connection, (ch) => ch.purgeQueue('')), 404, 'with none declared on the channel, purge is 404');
});

t.test('[queue.purge.queue/must-exist] purging a missing queue is refused with 404', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  t.equal((await refusal(channel.purgeQueue(unique('missing'))))?.code, 404);
});

t.test('[queue.delete/01] a deleted queue\'s messages are discarded, not dead-lettered, as RabbitMQ does', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const dlx = unique('dlx');
  const queue = unique('doomed');
  removeAfter(t, to, { queues: [queue], exchanges: [dlx] });
  await channel.assertExchange(dlx, 'fanout', { durable: false });
  const { queue: dead } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(dead, dlx, '');
  await channel.assertQueue(queue, { durable: false, deadLetterExchange: dlx });
  await fill(channel, queue, ['m0', 'm1', 'm2']);
  t.equal((await channel.deleteQueue(queue)).messageCount, 3, 'delete-ok counts the discarded messages');
  await delay(200);
  t.equal((await channel.checkQueue(dead)).messageCount, 0, 'nothing reached the dead-letter exchange');
});

t.test('[queue.delete.queue/must-exist] deleting a missing queue succeeds with a count of 0, as RabbitMQ does', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  t.equal((await channel.deleteQueue(unique('missing'))).messageCount, 0);
});

t.test('[queue.delete.if-unused/in-use] if-unused refuses to delete a queue with a consumer (406)', async (t) => {
  const to = await target(t);
  const { connection, channel } = await session(t, to);
  const { queue } = await channel.assertQueue(unique('in-use'), { exclusive: true });
  await channel.consume(queue, () => {});
  t.equal(await refusedWith(connection, (ch) => ch.deleteQueue(queue, { ifUnused: true })), 406);
  t.ok(await queueExists(connection, queue), 'the queue is still there');
  const { consumerCount } = await channel.checkQueue(queue);
  t.equal(consumerCount, 1, 'with its consumer');
});

t.test('[queue.delete.if-empty/not-empty] if-empty refuses to delete a queue holding messages (406)', async (t) => {
  const to = await target(t);
  const { connection, channel } = await session(t, to);
  const { queue } = await channel.assertQueue(unique('not-empty'), { exclusive: true });
  await fill(channel, queue, ['m0', 'm1']);
  t.equal(await refusedWith(connection, (ch) => ch.deleteQueue(queue, { ifEmpty: true })), 406);
  t.equal((await channel.checkQueue(queue)).messageCount, 2, 'the queue and its messages are still there');
  await channel.purgeQueue(queue);
  await channel.deleteQueue(queue, { ifEmpty: true });
  t.notOk(await queueExists(connection, queue), 'once empty, if-empty deletes it');
});
