import type * as amqp from 'amqplib';
import t from 'tap';
import { drain } from '../support/messages.js';
import { pickProperties, publishSettled, routingChannel, takeAll, tempQueue } from '../support/routing.js';

const PROPERTIES = {
  contentType: 'application/json',
  contentEncoding: 'gzip',
  headers: { str: 'v', n: 42, big: 2 ** 40, f: 1.5, yes: true, nothing: null, list: [1, 'two'], table: { inner: 'x' } },
  deliveryMode: 2,
  priority: 3,
  correlationId: 'corr-1',
  replyTo: 'reply-queue',
  expiration: '60000',
  messageId: 'msg-1',
  timestamp: 1_700_000_000,
  type: 'order.created',
  appId: 'routing-tests',
} as const;

t.test('an unroutable mandatory message comes back as basic.return 312 NO_ROUTE with its properties and body', async (t) => {
  const { channel } = await routingChannel(t);
  await channel.assertExchange('mandatory-x', 'topic');
  const body = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256));
  const returned = await publishSettled(channel, 'mandatory-x', 'no.such.binding', body, { ...PROPERTIES, mandatory: true });

  t.equal(returned.length, 1);
  const m = returned[0]!;
  t.same(m.fields, { replyCode: 312, replyText: 'NO_ROUTE', exchange: 'mandatory-x', routingKey: 'no.such.binding' });
  t.ok(m.content.equals(body), 'body intact');
  const { headers, ...rest } = PROPERTIES;
  t.same(pickProperties(m, rest), rest);
  t.same(m.properties.headers, headers);
});

t.test('a routed mandatory message is not returned; an unroutable one without mandatory is dropped silently', async (t) => {
  const { channel } = await routingChannel(t);
  const q = await tempQueue(channel);
  await channel.bindQueue(q, 'amq.direct', 'bound');
  t.same(await publishSettled(channel, 'amq.direct', 'bound', 'routed', { mandatory: true }), []);
  t.same(await publishSettled(channel, 'amq.direct', 'unbound', 'dropped', { mandatory: false }), []);
  t.same(await takeAll(channel, { q }), { q: ['routed'] });
});

t.test('returns come before the confirm of the same message, once each, in publish order', async (t) => {
  const { channel } = await routingChannel(t);
  const q = await tempQueue(channel);
  await channel.bindQueue(q, 'amq.direct', 'bound');
  const events: string[] = [];
  channel.on('return', (m: amqp.Message) => events.push(`return ${m.content.toString()}`));
  const keys = ['unbound', 'bound', 'unbound', 'unbound', 'bound'];
  keys.forEach((key, i) => {
    channel.publish('amq.direct', key, Buffer.from(String(i)), { mandatory: true }, (err) => events.push(err === null || err === undefined ? `ack ${i}` : `nack ${i}`));
  });
  await channel.waitForConfirms();
  // Acks may be batched (multiple=true); what is promised is that a return precedes the ack covering it.
  t.same(events.filter((e) => e.startsWith('return')), ['return 0', 'return 2', 'return 3']);
  t.same(events.filter((e) => e.startsWith('ack')).sort(), ['ack 0', 'ack 1', 'ack 2', 'ack 3', 'ack 4']);
  for (const i of [0, 2, 3]) t.ok(events.indexOf(`return ${i}`) < events.indexOf(`ack ${i}`), `return ${i} before its ack`);
  t.same(await takeAll(channel, { q }), { q: ['1', '4'] });
});

t.test('returns also reach a channel without confirms', async (t) => {
  const { connection } = await routingChannel(t);
  const channel = await connection.createChannel();
  const returned: string[] = [];
  channel.on('return', (m: amqp.Message) => returned.push(m.content.toString()));
  channel.publish('amq.fanout', '', Buffer.from('nobody is bound'), { mandatory: true });
  // The broker answers in order: by the time the declare is answered, the return has arrived.
  const q = await tempQueue(channel);
  t.same(returned, ['nobody is bound']);
  await channel.bindQueue(q, 'amq.fanout', '');
  channel.publish('amq.fanout', '', Buffer.from('bound now'), { mandatory: true });
  t.same((await drain(channel, q)).map((m) => m.content.toString()), ['bound now']);
  t.same(returned, ['nobody is bound']);
});

t.test('a body larger than frame_max is returned whole', async (t) => {
  const { channel } = await routingChannel(t);
  const body = Buffer.alloc(300_000, 'x');
  body.write('start', 0);
  body.write('end', body.length - 3);
  const returned = await publishSettled(channel, 'amq.headers', '', body, { mandatory: true, headers: { unmatched: true } });
  t.equal(returned.length, 1);
  t.ok(returned[0]?.content.equals(body));
});
