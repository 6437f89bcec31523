import t, { type Test } from 'tap';
import * as amqpcb from 'amqplib/callback_api';
import { withBroker, within } from '../support/broker.js';

/*
 * basic.get through amqplib's callback API: each step is the client's own
 * callback, turned into a promise only so the test reads top to bottom.
 */

function call<T>(fn: (callback: (err: Error | null, value: T) => void) => void): Promise<T> {
  return within(
    new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value)))),
    5000,
    'callback',
  );
}

/** A callback-API channel with a queue of its own holding "1".."n". */
async function queueOf(t: Test, n: number): Promise<{ connection: amqpcb.Connection; channel: amqpcb.Channel; queue: string }> {
  const broker = await withBroker(t);
  const connection = await call<amqpcb.Connection>((cb) => amqpcb.connect(broker.url, cb));
  connection.on('error', () => {});
  t.teardown(() => new Promise<void>((resolve) => connection.close(() => resolve())));
  const channel = await call<amqpcb.Channel>((cb) => connection.createChannel(cb));
  channel.on('error', () => {});
  const { queue } = await call<amqpcb.Replies.AssertQueue>((cb) => channel.assertQueue('gets', { autoDelete: false }, cb));
  for (let i = 1; i <= n; i++) channel.sendToQueue(queue, Buffer.from(String(i)), { messageId: `m${i}`, headers: { n: i } });
  await call((cb) => channel.checkQueue(queue, cb));
  return { connection, channel, queue };
}

const get = (channel: amqpcb.Channel, queue: string, noAck = false): Promise<amqpcb.GetMessage | false> =>
  call((cb) => channel.get(queue, { noAck }, cb));

/** The queue's ready messages, counted on a fresh channel after closing `channel` (which requeues its unacked ones). */
async function countAfterClose(connection: amqpcb.Connection, channel: amqpcb.Channel, queue: string): Promise<number> {
  await call<void>((cb) => channel.close((err) => cb(err ?? null, undefined)));
  const fresh = await call<amqpcb.Channel>((cb) => connection.createChannel(cb));
  return (await call<amqpcb.Replies.AssertQueue>((cb) => fresh.checkQueue(queue, cb))).messageCount;
}

t.test('get-ok carries the message, its routing data and how many messages are left', async (t) => {
  const { channel, queue } = await queueOf(t, 3);
  const m = await get(channel, queue);
  if (m === false) throw new Error('expected a message');
  t.equal(m.content.toString(), '1');
  t.same(m.fields, { deliveryTag: 1, redelivered: false, exchange: '', routingKey: queue, messageCount: 2 });
  t.equal(m.properties.messageId, 'm1');
  t.same(m.properties.headers, { n: 1 });
  const second = await get(channel, queue);
  t.same(second && [second.content.toString(), second.fields.deliveryTag, second.fields.messageCount], ['2', 2, 1]);
});

t.test('get on an empty queue answers get-empty', async (t) => {
  const { channel, queue } = await queueOf(t, 1);
  t.ok(await get(channel, queue, true));
  t.equal(await get(channel, queue), false);
  t.equal(await get(channel, queue, true), false);
});

t.test('a no-ack get takes the message for good', async (t) => {
  const { connection, channel, queue } = await queueOf(t, 2);
  const m = await get(channel, queue, true);
  t.equal(m && m.content.toString(), '1');
  t.equal(await countAfterClose(connection, channel, queue), 1);
});

t.test('a get awaiting ack comes back if the channel closes, and is gone once acked', async (t) => {
  const { connection, channel, queue } = await queueOf(t, 3);
  const first = await get(channel, queue);
  const second = await get(channel, queue);
  if (first === false || second === false) throw new Error('expected messages');
  channel.ack(first);
  t.equal(await countAfterClose(connection, channel, queue), 2, 'the unacked one went back, the acked one did not');
});

t.test('a got message nacked with requeue is the next one got, marked redelivered', async (t) => {
  const { channel, queue } = await queueOf(t, 3);
  const first = await get(channel, queue);
  if (first === false) throw new Error('expected a message');
  channel.nack(first, false, true);
  const again = await get(channel, queue);
  if (again === false) throw new Error('expected the requeued message');
  t.equal(again.content.toString(), '1');
  t.equal(again.fields.redelivered, true);
  t.equal(again.fields.messageCount, 2);
  t.equal(again.fields.deliveryTag, 2, 'a redelivery gets a new tag');
  channel.reject(again, false);
  const next = await get(channel, queue, true);
  t.equal(next && next.content.toString(), '2', 'a reject without requeue dropped it');
});

t.test('get from a missing queue closes the channel with 404', async (t) => {
  const { channel } = await queueOf(t, 0);
  const err = await get(channel, 'no-such-queue').then(
    () => undefined,
    (e: Error & { code?: number }) => e,
  );
  t.equal(err?.code, 404);
  t.match(err?.message, /no queue 'no-such-queue'/);
});
