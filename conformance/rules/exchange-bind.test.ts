import type * as amqp from 'amqplib';
import t, { type Test } from 'tap';
import { open, refusedWith, removeAfter, routedCopies, session, target, type Target, unique } from './support.js';

// exchange.bind and exchange.unbind: exchange-to-exchange bindings.

/** Two fresh exchanges and a queue bound to the destination, removed when the test ends. */
async function pair(t: Test, to: Target, channel: amqp.Channel, type = 'fanout'): Promise<{ source: string; destination: string; queue: string }> {
  const source = unique('source');
  const destination = unique('destination');
  removeAfter(t, to, { exchanges: [source, destination] });
  await channel.assertExchange(source, type, { durable: false });
  await channel.assertExchange(destination, 'fanout', { durable: false });
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(queue, destination, '');
  return { source, destination, queue };
}

t.test('[exchange.bind/duplicates] binding the same exchanges twice with the same key is accepted and routes once', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { source, destination, queue } = await pair(t, to, channel, 'direct');
  await channel.bindExchange(destination, source, 'k');
  await channel.bindExchange(destination, source, 'k');
  t.pass('the repeated bind succeeds');
  t.equal(await routedCopies(channel, source, 'k', queue), 1, 'one copy');
});

t.test('[exchange.bind/cyclical] an exchange may be bound to itself and into a cycle; a message still arrives once', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { source, destination, queue } = await pair(t, to, channel);
  await channel.bindExchange(source, source, '');
  await channel.bindExchange(destination, source, '');
  await channel.bindExchange(source, destination, '');
  t.pass('self-binding and a two-exchange cycle are accepted');
  t.equal(await routedCopies(channel, source, '', queue), 1, 'one copy despite the cycle');
});

t.test('[exchange.bind/unique] a destination reached by several matching bindings gets one copy', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { destination, queue } = await pair(t, to, channel);
  const key = unique('key');
  for (const pattern of [`${key}.*`, `${key}.#`, `#`, `*.x`]) await channel.bindExchange(destination, 'amq.topic', pattern);
  t.equal(await routedCopies(channel, 'amq.topic', `${key}.x`, queue), 1, 'one copy through four matching bindings');
});

t.test('[exchange.bind.destination/exchange-existence] [exchange.bind.source/exchange-existence] binding to or from a missing exchange is refused with 404', async (t) => {
  const to = await target(t);
  const connection = await open(t, to);
  t.equal(await refusedWith(connection, (ch) => ch.bindExchange(unique('missing'), 'amq.fanout', '')), 404, 'missing destination');
  t.equal(await refusedWith(connection, (ch) => ch.bindExchange('amq.fanout', unique('missing'), '')), 404, 'missing source');
});

t.test('[exchange.bind.destination/default-exchange] [exchange.bind.source/default-exchange] binding to or from the default exchange is refused with 403, as RabbitMQ does', async (t) => {
  const to = await target(t);
  const connection = await open(t, to);
  t.equal(await refusedWith(connection, (ch) => ch.bindExchange('', 'amq.fanout', '')), 403, 'blank destination');
  t.equal(await refusedWith(connection, (ch) => ch.bindExchange('amq.fanout', '', '')), 403, 'blank source');
});

t.test('[exchange.unbind/01] a failed unbind closes only its channel, not the connection, as RabbitMQ does', async (t) => {
  const to = await target(t);
  const connection = await open(t, to);
  t.equal(await refusedWith(connection, (ch) => ch.unbindExchange('amq.fanout', '', '')), 403, 'a channel error');
  const ch = await connection.createChannel();
  await ch.checkExchange('amq.fanout');
  t.pass('the connection still works');
});

t.test('[exchange.unbind.destination/must-exist] [exchange.unbind.source/must-exist] unbinding with a missing exchange succeeds, as RabbitMQ does', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  await channel.unbindExchange(unique('missing'), 'amq.fanout', '');
  t.pass('missing destination: unbind-ok');
  await channel.unbindExchange('amq.fanout', unique('missing'), '');
  t.pass('missing source: unbind-ok');
  await channel.unbindExchange('amq.fanout', 'amq.direct', unique('never-bound'));
  t.pass('a binding that never existed: unbind-ok');
});

t.test('[exchange.unbind.destination/default-exchange] [exchange.unbind.source/default-exchange] unbinding the default exchange is refused with 403, as RabbitMQ does', async (t) => {
  const to = await target(t);
  const connection = await open(t, to);
  t.equal(await refusedWith(connection, (ch) => ch.unbindExchange('', 'amq.fanout', '')), 403, 'blank destination');
  t.equal(await refusedWith(connection, (ch) => ch.unbindExchange('amq.fanout', '', '')), 403, 'blank source');
});

t.test('[exchange.unbind.destination/must-exist] an unbound exchange stops receiving', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { source, destination, queue } = await pair(t, to, channel, 'direct');
  await channel.bindExchange(destination, source, 'k');
  await channel.unbindExchange(destination, source, 'k');
  t.equal(await routedCopies(channel, source, 'k', queue), 0, 'nothing routed after the unbind');
});
