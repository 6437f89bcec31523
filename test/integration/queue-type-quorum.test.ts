import type * as amqp from 'amqplib';
import t, { type Test } from 'tap';
import { Decoder } from '../../src/protocol/decoder.js';
import { type FieldTable, TypedValue } from '../../src/protocol/field-value.js';
import { MethodId } from '../../src/protocol/generated/amqp-methods.js';
import { decodeBasicProperties } from '../../src/protocol/generated/basic-properties.js';
import { assertChannelRefusal, brokerChannel, connect, connectionClosed, openChannel, withBroker, within } from '../support/broker.js';
import { recover } from '../support/channel-methods.js';
import { readyCount } from '../support/messages.js';
import { RawClient } from '../support/raw-client.js';

// x-queue-type as RabbitMQ 3.10.8 handles it: every text, header and count
// below was taken from a real RabbitMQ 3.10.8 running the same steps.

const quorum = (args: Record<string, unknown> = {}): amqp.Options.AssertQueue => ({ durable: true, arguments: { 'x-queue-type': 'quorum', ...args } });

/** basic.get with manual ack; fails the test when the queue is empty. */
async function take(ch: amqp.Channel, queue: string): Promise<amqp.GetMessage> {
  const m = await ch.get(queue);
  if (m === false) throw new Error(`${queue} is empty`);
  return m;
}

/** Takes and requeues (nack) the head of `queue` until it is empty or `max` rounds; returns what each delivery showed. */
async function nackLoop(ch: amqp.Channel, queue: string, max: number): Promise<{ redelivered: boolean; count: unknown }[]> {
  const seen: { redelivered: boolean; count: unknown }[] = [];
  for (let i = 0; i < max; i++) {
    const m = await ch.get(queue);
    if (m === false) break;
    seen.push({ redelivered: m.fields.redelivered, count: m.properties.headers?.['x-delivery-count'] });
    ch.nack(m, false, true);
  }
  return seen;
}

async function refused(t: Test, connection: amqp.ChannelModel, name: string, options: amqp.Options.AssertQueue, text: string): Promise<void> {
  const ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.assertQueue(name, options), 406, `PRECONDITION_FAILED - ${text}`);
}

t.test('a quorum queue takes its own arguments and refuses the others', async (t) => {
  const broker = await withBroker(t);
  const connection = await connect(t, broker);
  const ch = await connection.createChannel();
  const accepted = [
    { 'x-delivery-limit': 'a' },
    { 'x-message-ttl': 5000 },
    { 'x-overflow': 'reject-publish-dlx' },
    { 'x-queue-leader-locator': 'balanced' },
    { 'x-dead-letter-strategy': 'at-least-once', 'x-dead-letter-exchange': 'dlx' },
    { 'x-consumer-timeout': 3 },
  ];
  for (const [i, args] of accepted.entries()) {
    t.same(await ch.assertQueue(`ok${i}`, quorum(args)), { queue: `ok${i}`, messageCount: 0, consumerCount: 0 }, JSON.stringify(args));
  }
  for (const key of ['x-max-priority', 'x-queue-mode', 'x-queue-version', 'x-queue-master-locator', 'x-max-age']) {
    await refused(t, connection, 'q', quorum({ [key]: key === 'x-queue-mode' ? 'lazy' : 2 }), `invalid arg '${key}' for queue 'q' in vhost '/' of queue type rabbit_quorum_queue`);
  }
  await refused(t, connection, 'q', quorum({ 'x-dead-letter-strategy': 'bad', 'x-max-length': 'a' }), "invalid arg 'x-dead-letter-strategy' for queue 'q' in vhost '/': invalid_dlx_strategy");
  await refused(t, connection, 'q', { durable: true, autoDelete: true, exclusive: true, arguments: { 'x-queue-type': 'quorum' } }, "invalid property 'auto-delete' for queue 'q' in vhost '/'");
  await refused(t, connection, 'q', { durable: true, arguments: { 'x-queue-type': 'QUORUM' } }, `invalid arg 'x-queue-type' for queue 'q' in vhost '/': "unsupported queue type 'QUORUM'"`);
});

t.test('stream queues are refused clearly, after the checks RabbitMQ makes', async (t) => {
  const broker = await withBroker(t);
  const connection = await connect(t, broker);
  const stream = { 'x-queue-type': 'stream' };
  await refused(t, connection, 's', { durable: true, arguments: stream }, "invalid arg 'x-queue-type' for queue 's' in vhost '/': queue type 'stream' is not supported by this broker");
  await refused(t, connection, 's', { durable: false, arguments: stream }, "invalid property 'non-durable' for queue 's' in vhost '/'");
  await refused(t, connection, 's', { durable: true, arguments: { ...stream, 'x-delivery-limit': 1 } }, "invalid arg 'x-delivery-limit' for queue 's' in vhost '/' of queue type rabbit_stream_queue");
  const ch = await openChannel(connection);
  await t.rejects(ch.checkQueue('s'), { code: 404 }, 'nothing was created');
});

t.test('redeclaring with another queue type is an inequivalent argument', async (t) => {
  const broker = await withBroker(t);
  const connection = await connect(t, broker);
  const ch = await connection.createChannel();
  await ch.assertQueue('qq', quorum({ 'x-delivery-limit': 3 }));
  await ch.assertQueue('cq', { durable: true });
  const inequivalent = (queue: string, text: string) => `inequivalent arg 'x-queue-type' for queue '${queue}' in vhost '/': ${text}`;
  await refused(t, connection, 'qq', { durable: true, arguments: { 'x-delivery-limit': 3 } }, inequivalent('qq', "received none but current is the value 'quorum' of type 'longstr'"));
  await refused(t, connection, 'qq', { durable: true, arguments: { 'x-queue-type': 'classic', 'x-delivery-limit': 3 } }, inequivalent('qq', "received 'classic' but current is 'quorum'"));
  await refused(t, connection, 'qq', { durable: true, arguments: { 'x-queue-type': 'stream' } }, inequivalent('qq', "received 'stream' but current is 'quorum'"));
  await refused(t, connection, 'cq', quorum(), inequivalent('cq', "received the value 'quorum' of type 'longstr' but current is none"));
  await refused(t, connection, 'qq', quorum(), "inequivalent arg 'x-delivery-limit' for queue 'qq' in vhost '/': received none but current is the value '3' of type 'byte'");
  t.same(await ch.assertQueue('qq', quorum({ 'x-delivery-limit': 3, 'x-max-priority': 3 })), { queue: 'qq', messageCount: 0, consumerCount: 0 }, 'a redeclare validates nothing');
});

t.test('x-delivery-count: consumers see it once a message came back, basic.get always', async (t) => {
  const { channel: ch } = await brokerChannel(t);
  await ch.assertQueue('qq', quorum());
  ch.sendToQueue('qq', Buffer.from('c'), { headers: { z: 'last', b: 'x' } });
  const deliveries: amqp.ConsumeMessage[] = [];
  let thirdDelivery: () => void = () => {};
  const third = new Promise<void>((resolve) => (thirdDelivery = resolve));
  const { consumerTag } = await ch.consume('qq', (m) => {
    if (m === null) return;
    deliveries.push(m);
    if (deliveries.length < 3) ch.nack(m, false, true);
    else thirdDelivery();
  });
  await within(third, 5000, 'three deliveries');
  await ch.cancel(consumerTag);
  ch.ack(deliveries[2]!);
  t.same(
    deliveries.map((m) => ({ redelivered: m.fields.redelivered, headers: m.properties.headers })),
    [
      { redelivered: false, headers: { z: 'last', b: 'x' } },
      { redelivered: true, headers: { b: 'x', 'x-delivery-count': 1, z: 'last' } },
      { redelivered: true, headers: { b: 'x', 'x-delivery-count': 2, z: 'last' } },
    ],
  );
  t.same(Object.keys(deliveries[1]!.properties.headers ?? {}), ['b', 'x-delivery-count', 'z'], 'the headers come sorted by name');
  ch.sendToQueue('qq', Buffer.from('g'), { headers: { a: 1, 'x-delivery-count': 'mine' } });
  t.same(await nackLoop(ch, 'qq', 3), [
    { redelivered: false, count: 0 },
    { redelivered: true, count: 1 },
    { redelivered: true, count: 2 },
  ], "basic.get shows 0 the first time, replacing the publisher's own header");
});

t.test('the header is a long, and a classic queue never adds it', async (t) => {
  const { broker, channel: ch } = await brokerChannel(t);
  await ch.assertQueue('qq', quorum());
  await ch.assertQueue('cq', { durable: true });
  for (const q of ['qq', 'cq']) {
    ch.sendToQueue(q, Buffer.from('m'));
    ch.nack(await take(ch, q), false, true);
  }
  const raw = await RawClient.open(t, broker.port);
  await raw.openChannel(1);
  const headersOf = async (queue: string): Promise<FieldTable | undefined> => {
    raw.method(1, { id: MethodId.BasicGet, queue, noAck: true });
    await raw.expectMethod(MethodId.BasicGetOk, 1);
    const header = await raw.nextFrame();
    await raw.nextFrame();
    return decodeBasicProperties(new Decoder(header.payload.subarray(12))).headers;
  };
  t.same(await headersOf('qq'), { 'x-delivery-count': new TypedValue('l', 1) });
  t.same(await headersOf('cq'), {}, 'a classic queue leaves the headers amqplib sent (none) alone');
  raw.destroy();
});

t.test('x-delivery-limit: a message returned more often than the limit allows is dropped', async (t) => {
  const { channel: ch } = await brokerChannel(t);
  const limits: [unknown, number][] = [[2, 3], [0, 1], [-1, 1], [1.5, 2], ['a', 6], [undefined, 6]];
  for (const [i, [limit, deliveries]] of limits.entries()) {
    await ch.assertQueue(`l${i}`, quorum(limit === undefined ? {} : { 'x-delivery-limit': limit }));
    ch.sendToQueue(`l${i}`, Buffer.from('m'));
    t.equal((await nackLoop(ch, `l${i}`, 6)).length, deliveries, `limit ${String(limit)}: ${deliveries} deliveries`);
  }
  t.equal(await readyCount(ch, 'l0'), 0, 'the message is gone');
});

t.test('a message over the delivery limit is dead-lettered with reason delivery_limit, without the count header', async (t) => {
  const { channel: ch } = await brokerChannel(t);
  await ch.assertQueue('dead', { durable: true });
  await ch.assertQueue('qq', quorum({ 'x-delivery-limit': 1, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dead' }));
  ch.sendToQueue('qq', Buffer.from('d'), { headers: { h: 1 }, expiration: '60000' });
  t.equal((await nackLoop(ch, 'qq', 5)).length, 2);
  const dead = await take(ch, 'dead');
  const { 'x-death': deaths, ...headers } = dead.properties.headers ?? {};
  t.same(headers, { h: 1, 'x-first-death-exchange': '', 'x-first-death-queue': 'qq', 'x-first-death-reason': 'delivery_limit' });
  const [{ time, ...death }] = deaths as unknown as [Record<string, unknown>];
  t.ok(time !== undefined);
  t.same(death, { count: 1, reason: 'delivery_limit', queue: 'qq', exchange: '', 'routing-keys': ['qq'], 'original-expiration': '60000' });
  t.equal(dead.properties.expiration, undefined);
});

t.test('a channel closing, basic.recover and reject all count as returns', async (t) => {
  const broker = await withBroker(t);
  const connection = await connect(t, broker);
  const ch = await connection.createChannel();
  await ch.assertQueue('qq', quorum({ 'x-delivery-limit': 3 }));
  ch.sendToQueue('qq', Buffer.from('m'));
  const closing = await connection.createChannel();
  await take(closing, 'qq');
  await closing.close();
  t.equal((await take(ch, 'qq')).properties.headers?.['x-delivery-count'], 1, 'after a channel closed with it unacked');
  await recover(ch, true);
  const m = await take(ch, 'qq');
  t.equal(m.properties.headers?.['x-delivery-count'], 2, 'after basic.recover');
  ch.reject(m, true);
  const last = await take(ch, 'qq');
  t.equal(last.properties.headers?.['x-delivery-count'], 3, 'after basic.reject with requeue');
  ch.reject(last, true);
  t.equal(await readyCount(ch, 'qq'), 0, 'the fourth return goes over the limit');
});

t.test('consuming from a quorum queue with a global prefetch closes the connection with 540', async (t) => {
  const broker = await withBroker(t);
  const connection = await connect(t, broker);
  const ch = await openChannel(connection);
  await ch.assertQueue('gq', quorum());
  await ch.prefetch(0, true);
  await ch.consume('gq', () => {});
  t.pass('a global prefetch of 0 is no limit');
  await ch.prefetch(5, true);
  const closed = connectionClosed(connection);
  await t.rejects(ch.consume('gq', () => {}));
  t.match((await closed)?.message, "540 (NOT-IMPLEMENTED) with message \"NOT_IMPLEMENTED - queue 'gq' in vhost '/' does not support global qos\"");
});
