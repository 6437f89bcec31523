import type * as amqp from 'amqplib';
import t from 'tap';
import { channelError, collect, delay, within } from '../../test/support/broker.js';
import { MethodId } from '../../src/protocol/generated/amqp-methods.js';
import { rawContent, rawOpen, rawPublish, removeAfter, session, target, unique } from './support.js';

// basic.publish: the exchange, mandatory and immediate.

t.test('[basic.publish.exchange/must-exist] publishing to a missing exchange closes the channel with 404', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const closed = channelError(channel);
  channel.publish(unique('missing'), 'k', Buffer.from('lost'));
  const err = await within(closed, 3000, 'channel.close');
  t.equal(err.code, 404);
  t.same([err.classId, err.methodId], [60, 40], 'names basic.publish');
});

t.test('[basic.publish.exchange/default-exchange] a blank exchange name publishes through the default exchange', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  const got = collect(channel, queue, 1);
  channel.publish('', queue, Buffer.from('blank'));
  t.equal((await got)[0]?.content.toString(), 'blank');
  t.equal((await got)[0]?.fields.exchange, '', 'delivered as from the default exchange');
});

t.test('[basic.publish.exchange/02] publishing to an internal exchange closes the channel with 403', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const name = unique('internal');
  removeAfter(t, to, { exchanges: [name] });
  await channel.assertExchange(name, 'fanout', { internal: true, durable: false });
  const closed = channelError(channel);
  channel.publish(name, '', Buffer.from('refused'));
  t.equal((await within(closed, 3000, 'channel.close')).code, 403);
});

t.test('[basic.publish.exchange/03] every exchange type accepts basic content (none answers 540)', async (t) => {
  const to = await target(t);
  const { connection, channel } = await session(t, to);
  const names: string[] = [];
  for (const type of ['direct', 'fanout', 'topic', 'headers']) {
    const name = unique(type);
    names.push(name);
    await channel.assertExchange(name, type, { durable: false });
    channel.publish(name, 'k', Buffer.from(type));
  }
  removeAfter(t, to, { exchanges: names });
  await delay(100);
  await channel.checkExchange(names[0]!);
  t.pass('the channel is still open after publishing to each type');
  const again = await connection.createChannel();
  await again.close();
});

t.test('[basic.publish.mandatory/01] an unroutable mandatory message comes back with basic.return 312 NO_ROUTE', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const returned = new Promise<amqp.Message>((resolve) => channel.once('return', resolve));
  const key = unique('nowhere');
  channel.publish('amq.direct', key, Buffer.from('bounce'), { mandatory: true });
  const m = await within(returned, 3000, 'basic.return');
  t.same([m.fields.exchange, m.fields.routingKey, m.content.toString()], ['amq.direct', key, 'bounce']);
  t.equal((m.fields as unknown as { replyCode: number }).replyCode, 312);
  t.match((m.fields as unknown as { replyText: string }).replyText, 'NO_ROUTE');
  channel.publish('amq.direct', key, Buffer.from('dropped'), { mandatory: false });
  await delay(200);
  t.pass('without mandatory the same message is dropped silently');
});

t.test('[basic.publish.immediate/01] immediate=true is refused with 540 NOT_IMPLEMENTED, as RabbitMQ does', async (t) => {
  const to = await target(t);
  const raw = await rawOpen(t, to);
  await raw.openChannel(1);
  rawPublish(raw, 1, Buffer.from('now'), { exchange: 'amq.direct', routingKey: 'k', immediate: true });
  const close = await raw.expectClose();
  t.equal(close.replyCode, 540);
  t.same([close.classId, close.methodId], [60, 40], 'names basic.publish');
});

t.test('[basic.publish.mandatory/01] the returned content is the published content', async (t) => {
  const to = await target(t);
  const raw = await rawOpen(t, to);
  await raw.openChannel(1);
  const body = Buffer.alloc(10_000, 0x5a);
  rawPublish(raw, 1, body, { exchange: 'amq.direct', routingKey: unique('nowhere'), mandatory: true, properties: { messageId: 'r1' } });
  const ret = await raw.expectMethod(MethodId.BasicReturn, 1);
  t.equal(ret.replyCode, 312);
  t.ok((await rawContent(raw)).body.equals(body), 'the whole body comes back');
});
