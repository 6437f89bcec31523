import t from 'tap';
import { open, refusedWith, removeAfter, routedCopies, session, target, unique } from './support.js';

// queue.bind and queue.unbind.

t.test('[queue.bind/duplicates] binding a queue twice with the same key and arguments is accepted and routes once', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(queue, 'amq.direct', queue);
  await channel.bindQueue(queue, 'amq.direct', queue);
  t.pass('the repeated bind succeeds');
  t.equal(await routedCopies(channel, 'amq.direct', queue, queue), 1);
});

t.test('[queue.bind/unique] a queue with several matching bindings gets one copy', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  const key = unique('key');
  for (const pattern of [`${key}.*`, `${key}.#`, `#.x`, `*.x`]) await channel.bindQueue(queue, 'amq.topic', pattern);
  t.equal(await routedCopies(channel, 'amq.topic', `${key}.x`, queue), 1);
});

t.test('[queue.bind/transient-exchange] a durable queue may be bound to a transient exchange', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const exchange = unique('transient');
  const queue = unique('durable');
  removeAfter(t, to, { queues: [queue], exchanges: [exchange] });
  await channel.assertExchange(exchange, 'fanout', { durable: false });
  await channel.assertQueue(queue, { durable: true });
  await channel.bindQueue(queue, exchange, '');
  t.equal(await routedCopies(channel, exchange, '', queue), 1);
});

t.test('[queue.bind/binding-count] a queue bound to four exchanges receives through each', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  const own = unique('own');
  removeAfter(t, to, { exchanges: [own] });
  await channel.assertExchange(own, 'fanout', { durable: false });
  const routes: [string, string][] = [
    ['amq.direct', queue],
    ['amq.topic', queue],
    ['amq.fanout', ''],
    [own, ''],
  ];
  for (const [exchange, key] of routes) await channel.bindQueue(queue, exchange, key);
  for (const [exchange, key] of routes) t.equal(await routedCopies(channel, exchange, key, queue), 1, `through ${exchange}`);
  await channel.unbindQueue(queue, 'amq.fanout', '');
});

t.test('[queue.bind.queue/queue-known] [queue.unbind.queue/queue-known] an empty queue name means the queue last declared on the channel', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  const key = unique('last');
  await channel.bindQueue('', 'amq.direct', key);
  t.equal(await routedCopies(channel, 'amq.direct', key, queue), 1, 'bound through the empty name');
  await channel.unbindQueue('', 'amq.direct', key);
  t.equal(await routedCopies(channel, 'amq.direct', key, queue), 0, 'unbound through the empty name');
  const connection = await open(t, to);
  t.equal(await refusedWith(connection, (ch) => ch.bindQueue('', 'amq.direct', key)), 404, 'with no queue declared on the channel: 404');
});

t.test('[queue.bind.queue/must-exist] [queue.bind.exchange/exchange-existence] binding a missing queue or to a missing exchange is refused with 404', async (t) => {
  const to = await target(t);
  const connection = await open(t, to);
  const ch = await connection.createChannel();
  const { queue } = await ch.assertQueue('', { exclusive: true });
  t.equal(await refusedWith(connection, (c) => c.bindQueue(unique('missing'), 'amq.direct', 'k')), 404, 'missing queue');
  t.equal(await refusedWith(connection, (c) => c.bindQueue(queue, unique('missing'), 'k')), 404, 'missing exchange');
});

t.test('[queue.bind.exchange/default-exchange] [queue.unbind.exchange/default-exchange] binding to or unbinding from the default exchange is refused with 403, as RabbitMQ does', async (t) => {
  const to = await target(t);
  const connection = await open(t, to);
  const ch = await connection.createChannel();
  const { queue } = await ch.assertQueue('', { exclusive: true });
  t.equal(await refusedWith(connection, (c) => c.bindQueue(queue, '', queue)), 403, 'bind');
  t.equal(await refusedWith(connection, (c) => c.unbindQueue(queue, '', queue)), 403, 'unbind');
});

t.test('[queue.bind.routing-key/direct-exchange-key-matching] a direct exchange passes a message when the routing key equals the binding key', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  const key = unique('K');
  await channel.bindQueue(queue, 'amq.direct', key);
  t.equal(await routedCopies(channel, 'amq.direct', key, queue), 1, 'R = K is delivered');
  t.equal(await routedCopies(channel, 'amq.direct', `${key}x`, queue), 0, 'R != K is not');
  t.equal(await routedCopies(channel, 'amq.direct', key.toUpperCase(), queue), 0, 'the comparison is case-sensitive');
});

t.test('[queue.unbind/01] a failed unbind closes only its channel, and unbinding a missing binding succeeds, as RabbitMQ does', async (t) => {
  const to = await target(t);
  const connection = await open(t, to);
  const ch = await connection.createChannel();
  const { queue } = await ch.assertQueue('', { exclusive: true });
  t.equal(await refusedWith(connection, (c) => c.unbindQueue(queue, '', queue)), 403, 'a channel error');
  await ch.unbindQueue(queue, 'amq.direct', unique('never-bound'));
  t.pass('unbinding a binding that never existed succeeds on the same connection');
});

t.test('[queue.unbind.queue/must-exist] [queue.unbind.exchange/must-exist] unbinding a missing queue or from a missing exchange succeeds, as RabbitMQ does', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.unbindQueue(unique('missing'), 'amq.direct', 'k');
  t.pass('missing queue: unbind-ok');
  await channel.unbindQueue(queue, unique('missing'), 'k');
  t.pass('missing exchange: unbind-ok');
});
