import type * as amqp from 'amqplib';
import t from 'tap';
import { channelError } from '../support/broker.js';
import { publishSettled, routingChannel, takeAll, tempQueue } from '../support/routing.js';

/** Declares the exchanges as name → type. */
async function exchanges(channel: amqp.Channel, declared: Record<string, string>, options: amqp.Options.AssertExchange = {}): Promise<void> {
  for (const [name, type] of Object.entries(declared)) await channel.assertExchange(name, type, options);
}

t.test('a chain of exchanges applies each binding to the original routing key and headers', async (t) => {
  const { channel } = await routingChannel(t);
  await exchanges(channel, { 'e2e-direct': 'direct', 'e2e-topic': 'topic', 'e2e-headers': 'headers', 'e2e-fanout': 'fanout' });
  // amqplib's bindExchange takes the destination first.
  await channel.bindExchange('e2e-topic', 'e2e-direct', 'k.a');
  await channel.bindExchange('e2e-topic', 'e2e-direct', 'k.b');
  await channel.bindExchange('e2e-headers', 'e2e-topic', '*.a');
  await channel.bindExchange('e2e-fanout', 'e2e-headers', '', { colour: 'red' });
  const [end, topicSide] = [await tempQueue(channel), await tempQueue(channel)];
  await channel.bindQueue(end, 'e2e-fanout', '');
  await channel.bindQueue(topicSide, 'e2e-topic', 'k.#');

  await publishSettled(channel, 'e2e-direct', 'k.a', 'all the way', { headers: { colour: 'red' } });
  await publishSettled(channel, 'e2e-direct', 'k.a', 'wrong header', { headers: { colour: 'blue' } });
  await publishSettled(channel, 'e2e-direct', 'k.b', 'topic only', { headers: { colour: 'red' } });
  await publishSettled(channel, 'e2e-direct', 'k.c', 'nowhere', { headers: { colour: 'red' } });
  t.same(await takeAll(channel, { end, topicSide }), {
    end: ['all the way'],
    topicSide: ['all the way', 'wrong header', 'topic only'],
  });
});

t.test('a queue reachable by several paths (diamond, direct binding too) gets one copy', async (t) => {
  const { channel } = await routingChannel(t);
  await exchanges(channel, { 'e2e-top': 'fanout', 'e2e-left': 'fanout', 'e2e-right': 'direct', 'e2e-bottom': 'topic' });
  await channel.bindExchange('e2e-left', 'e2e-top', '');
  await channel.bindExchange('e2e-right', 'e2e-top', '');
  await channel.bindExchange('e2e-bottom', 'e2e-left', '');
  await channel.bindExchange('e2e-bottom', 'e2e-right', 'k');
  const [q, side] = [await tempQueue(channel), await tempQueue(channel)];
  await channel.bindQueue(q, 'e2e-bottom', '#');
  await channel.bindQueue(q, 'e2e-left', '');
  await channel.bindQueue(q, 'e2e-top', '');
  await channel.bindQueue(side, 'e2e-right', 'k');

  t.same(await publishSettled(channel, 'e2e-top', 'k', 'one', { mandatory: true }), []);
  t.same(await publishSettled(channel, 'e2e-top', 'other', 'two', { mandatory: true }), []);
  t.same(await takeAll(channel, { q, side }), { q: ['one', 'two'], side: ['one'] });
});

t.test('binding loops neither loop nor duplicate', async (t) => {
  const { connection, channel } = await routingChannel(t);
  await exchanges(channel, { 'e2e-ping': 'fanout', 'e2e-pong': 'topic', 'e2e-self': 'direct' });
  await channel.bindExchange('e2e-pong', 'e2e-ping', '');
  await channel.bindExchange('e2e-ping', 'e2e-pong', '#');
  await channel.bindExchange('e2e-self', 'e2e-self', 'k');

  // With no queue anywhere, the message goes round once and comes back as unroutable.
  const returned = await publishSettled(channel, 'e2e-ping', 'k', 'loop', { mandatory: true });
  t.equal(returned.length, 1, 'returned once');
  t.equal((await publishSettled(channel, 'e2e-self', 'k', 'self', { mandatory: true })).length, 1, 'a self-binding routes nowhere');

  const [ping, pong, self] = [await tempQueue(channel), await tempQueue(channel), await tempQueue(channel)];
  await channel.bindQueue(ping, 'e2e-ping', '');
  await channel.bindQueue(pong, 'e2e-pong', 'k');
  await channel.bindQueue(self, 'e2e-self', 'k');
  await publishSettled(channel, 'e2e-ping', 'k', 'from ping');
  await publishSettled(channel, 'e2e-pong', 'k', 'from pong');
  await publishSettled(channel, 'e2e-self', 'k', 'from self');
  t.same(await takeAll(channel, { ping, pong, self }), {
    ping: ['from ping', 'from pong'],
    pong: ['from ping', 'from pong'],
    self: ['from self'],
  });
  // The connection is still responsive after all that.
  await (await connection.createChannel()).close();
});

t.test('exchange.unbind stops the flow through that binding only', async (t) => {
  const { channel } = await routingChannel(t);
  await exchanges(channel, { 'e2e-src': 'direct', 'e2e-dst': 'fanout' });
  await channel.bindExchange('e2e-dst', 'e2e-src', 'a');
  await channel.bindExchange('e2e-dst', 'e2e-src', 'b');
  const q = await tempQueue(channel);
  await channel.bindQueue(q, 'e2e-dst', '');

  await publishSettled(channel, 'e2e-src', 'a', 'a before');
  await channel.unbindExchange('e2e-dst', 'e2e-src', 'a');
  t.equal((await publishSettled(channel, 'e2e-src', 'a', 'a after', { mandatory: true })).length, 1, 'a is unroutable now');
  await publishSettled(channel, 'e2e-src', 'b', 'b after');
  t.same(await takeAll(channel, { q }), { q: ['a before', 'b after'] });
});

t.test('deleting an exchange in the middle removes the bindings to and from it for good', async (t) => {
  const { channel } = await routingChannel(t);
  await exchanges(channel, { 'e2e-first': 'fanout', 'e2e-middle': 'fanout', 'e2e-last': 'fanout' });
  await channel.bindExchange('e2e-middle', 'e2e-first', '');
  await channel.bindExchange('e2e-last', 'e2e-middle', '');
  const [q, direct] = [await tempQueue(channel), await tempQueue(channel)];
  await channel.bindQueue(q, 'e2e-last', '');
  await publishSettled(channel, 'e2e-first', '', 'through the middle');

  await channel.deleteExchange('e2e-middle');
  t.equal((await publishSettled(channel, 'e2e-first', '', 'no middle', { mandatory: true })).length, 1);
  // A new exchange of the same name starts with no bindings at all.
  await channel.assertExchange('e2e-middle', 'fanout');
  await channel.bindQueue(direct, 'e2e-middle', '');
  t.equal((await publishSettled(channel, 'e2e-first', '', 'still cut', { mandatory: true })).length, 1);
  await publishSettled(channel, 'e2e-middle', '', 'new middle');
  t.same(await takeAll(channel, { q, direct }), { q: ['through the middle'], direct: ['new middle'] });
});

t.test('an internal exchange refuses publishes (403) but is reached through exchange bindings', async (t) => {
  const { connection, channel } = await routingChannel(t);
  await channel.assertExchange('e2e-internal', 'topic', { internal: true });
  await channel.assertExchange('e2e-public', 'fanout');
  await channel.bindExchange('e2e-internal', 'e2e-public', '');
  const q = await tempQueue(channel);
  await channel.bindQueue(q, 'e2e-internal', 'a.*');

  await publishSettled(channel, 'e2e-public', 'a.b', 'via public');
  t.same(await takeAll(channel, { q }), { q: ['via public'] });

  const direct = await connection.createChannel();
  const refused = channelError(direct);
  direct.publish('e2e-internal', 'a.b', Buffer.from('direct'));
  const err = await refused;
  t.equal(err.code, 403);
  t.match(err.message, "ACCESS_REFUSED - cannot publish to internal exchange 'e2e-internal' in vhost '/'");
  t.same(await takeAll(channel, { q }), { q: [] });
});
