import type * as amqp from 'amqplib';
import t from 'tap';
import { collect, delay, eventually } from '../../test/support/broker.js';
import { FrameType } from '../../test/support/raw-client.js';
import { Decoder } from '../../src/protocol/decoder.js';
import { decodeMethod, MethodId } from '../../src/protocol/generated/amqp-methods.js';
import { fill, open, rawOpen, rawPublish, refusal, removeAfter, session, target, unique } from './support.js';

// The basic class as a whole (persistence, priorities, acknowledgement modes) and the
// delivery-tag and redelivered domains.


const texts = (ms: amqp.ConsumeMessage[]): string[] => ms.map((m) => m.content.toString());

t.test('[domain.delivery-tag/channel-local] a delivery tag acknowledged on another channel is unknown there (406) and the message stays unacked', async (t) => {
  const to = await target(t);
  const { connection, channel } = await session(t, to);
  const { queue } = await channel.assertQueue(unique('tag-local'), { exclusive: true });
  await fill(channel, queue, ['m']);
  const [m] = await collect(channel, queue, 1, { noAck: false });
  const other = await connection.createChannel();
  other.on('error', () => {});
  other.ack(m!);
  t.equal((await refusal(other.checkQueue(queue)))?.code, 406, 'the other channel is closed with 406');
  await channel.close();
  const again = await connection.createChannel();
  t.equal((await again.checkQueue(queue)).messageCount, 1, 'the message went back to the queue with its own channel');
});

t.test('[domain.delivery-tag/non-zero] delivery tags start at 1 on each channel and increase', async (t) => {
  const to = await target(t);
  const { connection, channel } = await session(t, to);
  const { queue } = await channel.assertQueue(unique('tags'), { exclusive: true });
  await fill(channel, queue, ['a', 'b', 'c', 'd']);
  await channel.prefetch(2);
  const first = await collect(channel, queue, 2, { noAck: false });
  t.same(first.map((m) => m.fields.deliveryTag), [1, 2], 'first channel');
  const second = await connection.createChannel();
  const more = await collect(second, queue, 2, { noAck: false });
  t.same(more.map((m) => m.fields.deliveryTag), [1, 2], 'a second channel starts at 1 again');
});

t.test('[domain.redelivered/implementation] a message delivered but not acknowledged comes back with redelivered set', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const queue = unique('redelivered');
  removeAfter(t, to, { queues: [queue] });
  await channel.assertQueue(queue, { durable: false });
  await fill(channel, queue, ['once']);
  const first = await open(t, to);
  const [m] = await collect(await first.createChannel(), queue, 1, { noAck: false });
  t.equal(m?.fields.redelivered, false, 'the first delivery is not marked');
  await first.close();
  const [again] = await collect(channel, queue, 1, { noAck: true });
  t.equal(again?.content.toString(), 'once');
  t.equal(again?.fields.redelivered, true, 'after the connection closed it is marked redelivered');
});

t.test('[basic/02] a large backlog of persistent messages is kept whole', async (t) => {
  const to = await target(t);
  const connection = await open(t, to);
  const channel = await connection.createConfirmChannel();
  const queue = unique('backlog');
  removeAfter(t, to, { queues: [queue] });
  await channel.assertQueue(queue, { durable: true });
  const n = 5000;
  const body = Buffer.alloc(1024, 0x61);
  for (let i = 0; i < n; i++) channel.sendToQueue(queue, body, { persistent: true, messageId: String(i) });
  await channel.waitForConfirms();
  t.equal((await channel.checkQueue(queue)).messageCount, n, `all ${n} persistent messages are queued`);
  const got = await collect(channel, queue, n, { noAck: true }, 20000);
  t.ok(got.every((m, i) => m.properties.messageId === String(i)), 'and delivered in order');
});

t.test('[basic/03] a publisher filling a queue is never sent channel.flow, as in RabbitMQ', async (t) => {
  const to = await target(t);
  const raw = await rawOpen(t, to);
  await raw.openChannel(1);
  const queue = unique('no-flow');
  raw.method(1, { id: MethodId.QueueDeclare, queue, passive: false, durable: false, exclusive: true, autoDelete: false, noWait: false, arguments: {} });
  await raw.expectMethod(MethodId.QueueDeclareOk, 1);
  const n = 3000;
  for (let i = 0; i < n; i++) rawPublish(raw, 1, Buffer.alloc(4096, 1), { routingKey: queue, frameMax: 131072 });
  // Publishing is asynchronous: ask until the queue holds them all.
  let count = 0;
  await eventually(
    async () => {
      raw.method(1, { id: MethodId.QueueDeclare, queue, passive: true, durable: false, exclusive: false, autoDelete: false, noWait: false, arguments: {} });
      count = (await raw.expectMethod(MethodId.QueueDeclareOk, 1, 10000)).messageCount;
      return count === n;
    },
    10000,
    `${n} messages queued (last count ${count})`,
  );
  t.pass('every message was taken');
  const flows = raw.pending().filter((f) => f.type === FrameType.method && decodeMethod(new Decoder(f.payload))?.id === MethodId.ChannelFlow);
  t.equal(flows.length, 0, 'no channel.flow was sent');
});

t.test('[basic/05] a queue over its x-max-length drops its oldest messages', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { queue } = await channel.assertQueue(unique('max-length'), { exclusive: true, arguments: { 'x-max-length': 2 } });
  ['a', 'b', 'c', 'd'].forEach((b) => channel.sendToQueue(queue, Buffer.from(b)));
  await delay(200);
  t.equal((await channel.checkQueue(queue)).messageCount, 2, 'two remain');
  t.same(texts(await collect(channel, queue, 2)), ['c', 'd'], 'the newest two');
});

t.test('[basic/06] without x-max-priority a classic queue ignores the priority property, as RabbitMQ does', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { queue } = await channel.assertQueue(unique('no-priority'), { exclusive: true });
  await fill(channel, queue, ['low-1', 'low-2', 'high'], (i) => ({ priority: i === 2 ? 9 : 0 }));
  t.same(texts(await collect(channel, queue, 3)), ['low-1', 'low-2', 'high'], 'first in, first out');
});

t.test('[basic/06] [basic/07] a priority queue delivers higher priorities first, over ten levels', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { queue } = await channel.assertQueue(unique('priority'), { exclusive: true, arguments: { 'x-max-priority': 10 } });
  const priorities = [0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  await fill(channel, queue, priorities.map((p, i) => `p${p}-${i}`), (i) => ({ priority: priorities[i]! }));
  const got = texts(await collect(channel, queue, priorities.length));
  t.equal(got[0], 'p9-11', 'the priority 9 message comes first');
  t.same(got, ['p9-11', 'p8-10', 'p7-9', 'p6-8', 'p5-7', 'p4-6', 'p3-5', 'p2-4', 'p1-3', 'p0-0', 'p0-1', 'p0-2'], 'ten distinct levels, FIFO within one');
});

t.test('[basic/08] messages of one priority keep their order whatever their persistence', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const queue = unique('mixed');
  removeAfter(t, to, { queues: [queue] });
  await channel.assertQueue(queue, { durable: true });
  const bodies = Array.from({ length: 20 }, (_, i) => `m${i}`);
  await fill(channel, queue, bodies, (i) => ({ persistent: i % 3 !== 0, priority: 5 }));
  t.same(texts(await collect(channel, queue, bodies.length)), bodies);
});

t.test('[basic/09] a no-ack consumer gets messages that are gone from the queue at once', async (t) => {
  const to = await target(t);
  const { connection, channel } = await session(t, to);
  const { queue } = await channel.assertQueue(unique('no-ack'), { exclusive: true });
  await fill(channel, queue, ['a', 'b', 'c']);
  t.same(texts(await collect(channel, queue, 3, { noAck: true })), ['a', 'b', 'c']);
  await channel.close();
  const again = await connection.createChannel();
  t.equal((await again.checkQueue(queue)).messageCount, 0, 'closing the channel brings nothing back');
});

t.test('[basic/10] with explicit acks, what was not acknowledged is delivered again after a reconnect', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const queue = unique('explicit-ack');
  removeAfter(t, to, { queues: [queue] });
  await channel.assertQueue(queue, { durable: false });
  const bodies = Array.from({ length: 10 }, (_, i) => `m${i}`);
  await fill(channel, queue, bodies);
  const first = await open(t, to);
  const ch = await first.createChannel();
  const got = await collect(ch, queue, 10, { noAck: false });
  got.filter((_, i) => i % 2 === 0).forEach((m) => ch.ack(m));
  // A round trip on the channel makes sure the acks are on the wire before the connection closes.
  await ch.checkQueue(queue);
  await first.close();
  await eventually(async () => (await channel.checkQueue(queue)).messageCount === 5, 3000, 'the unacknowledged requeued');
  const rest = await collect(channel, queue, 5, { noAck: true });
  t.same(texts(rest).sort(), ['m1', 'm3', 'm5', 'm7', 'm9'], 'the five unacknowledged come back, and nothing else');
});
