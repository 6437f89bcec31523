import type * as amqp from 'amqplib';
import t from 'tap';
import { connectionClosed, delay, eventually } from '../../test/support/broker.js';
import { MethodId } from '../../src/protocol/generated/amqp-methods.js';
import { CLIENT_CAPABILITIES } from '../../test/support/raw-client.js';
import { fill, open, rawOpen, refusal, session, target, unique } from './support.js';

// basic.qos, basic.consume and basic.cancel.

t.test('[basic.qos.prefetch-size/01] a prefetch-size limit is refused with 540, as RabbitMQ does', async (t) => {
  const to = await target(t);
  const raw = await rawOpen(t, to);
  await raw.openChannel(1);
  raw.method(1, { id: MethodId.BasicQos, prefetchSize: 1000, prefetchCount: 0, global: false });
  const close = await raw.expectClose();
  t.equal(close.replyCode, 540);
  t.same([close.classId, close.methodId], [60, 10], 'names basic.qos');
});

t.test('[basic.qos.prefetch-count/01] a consumer never holds more unacknowledged messages than its prefetch count', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { queue } = await channel.assertQueue(unique('prefetch'), { exclusive: true });
  await fill(channel, queue, Array.from({ length: 6 }, () => Buffer.alloc(2048, 0x61)));
  await channel.prefetch(2);
  const got: amqp.ConsumeMessage[] = [];
  await channel.consume(queue, (m) => m && got.push(m), { noAck: false });
  await eventually(() => got.length === 2, 2000, 'two deliveries');
  await delay(200);
  t.equal(got.length, 2, 'no third message before an ack');
  channel.ack(got[0]!);
  await eventually(() => got.length === 3, 2000, 'a third after one ack');
  await delay(200);
  t.equal(got.length, 3, 'exactly one more per ack');
});

t.test('[basic.consume/01] at least 16 consumers can share one queue, and each gets messages', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { queue } = await channel.assertQueue(unique('many-consumers'), { exclusive: true });
  const counts = new Map<string, number>();
  for (let i = 0; i < 20; i++) {
    const tag = `c${i}`;
    counts.set(tag, 0);
    await channel.consume(queue, (m) => m && counts.set(tag, (counts.get(tag) ?? 0) + 1), { noAck: true, consumerTag: tag });
  }
  t.equal((await channel.checkQueue(queue)).consumerCount, 20, '20 consumers');
  for (let i = 0; i < 40; i++) channel.sendToQueue(queue, Buffer.from(String(i)));
  await eventually(() => [...counts.values()].reduce((a, b) => a + b, 0) === 40, 3000, 'all delivered');
  t.ok([...counts.values()].every((n) => n > 0), 'every consumer got some');
});

t.test('[basic.consume.consumer-tag/01] reusing a consumer tag on the same channel is a connection error 530', async (t) => {
  const to = await target(t);
  const { connection, channel } = await session(t, to);
  const { queue } = await channel.assertQueue(unique('dup-tag'), { exclusive: true });
  await channel.consume(queue, () => {}, { consumerTag: 'same' });
  const closed = connectionClosed(connection);
  await refusal(channel.consume(queue, () => {}, { consumerTag: 'same' }));
  t.equal((await closed)?.code, 530);
});

t.test('[basic.consume.consumer-tag/02] a consumer tag belongs to its channel: the same tag on another channel is a separate consumer', async (t) => {
  const to = await target(t);
  const { connection, channel: one } = await session(t, to);
  const { queue } = await one.assertQueue(unique('tag-scope'), { exclusive: true });
  const two = await connection.createChannel();
  const seen = { one: 0, two: 0 };
  await one.consume(queue, (m) => m && seen.one++, { consumerTag: 'shared-tag', noAck: true });
  await two.consume(queue, (m) => m && seen.two++, { consumerTag: 'shared-tag', noAck: true });
  t.equal((await one.checkQueue(queue)).consumerCount, 2, 'two consumers with one tag on two channels');
  await two.cancel('shared-tag');
  t.equal((await one.checkQueue(queue)).consumerCount, 1, 'cancelling on one channel leaves the other');
  for (let i = 0; i < 4; i++) one.sendToQueue(queue, Buffer.from(String(i)));
  await eventually(() => seen.one === 4, 2000, 'the remaining consumer gets everything');
  t.equal(seen.two, 0, 'the cancelled one gets nothing');
});

t.test('[basic.consume.exclusive/01] an exclusive consume on a queue that has a consumer is refused with 403', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const queue = unique('exclusive-consume');
  await channel.assertQueue(queue, { autoDelete: true, durable: false });
  await channel.consume(queue, () => {});
  const other = await open(t, to);
  const ch = await other.createChannel();
  ch.on('error', () => {});
  t.equal((await refusal(ch.consume(queue, () => {}, { exclusive: true })))?.code, 403);
});

t.test('[basic.cancel/01] cancelling a consumer whose queue was deleted is answered with cancel-ok', async (t) => {
  const to = await target(t);
  // Without consumer_cancel_notify the broker does not tell the client the consumer went with its queue.
  const raw = await rawOpen(t, to, { clientProperties: { product: 'rules', capabilities: { ...CLIENT_CAPABILITIES, consumer_cancel_notify: false } } });
  await raw.openChannel(1);
  const queue = unique('cancel-gone');
  raw.method(1, { id: MethodId.QueueDeclare, queue, passive: false, durable: false, exclusive: true, autoDelete: false, noWait: false, arguments: {} });
  await raw.expectMethod(MethodId.QueueDeclareOk, 1);
  raw.method(1, { id: MethodId.BasicConsume, queue, consumerTag: 'gone', noLocal: false, noAck: true, exclusive: false, noWait: false, arguments: {} });
  await raw.expectMethod(MethodId.BasicConsumeOk, 1);
  raw.method(1, { id: MethodId.QueueDelete, queue, ifUnused: false, ifEmpty: false, noWait: false });
  await raw.expectMethod(MethodId.QueueDeleteOk, 1);
  raw.method(1, { id: MethodId.BasicCancel, consumerTag: 'gone', noWait: false });
  const ok = await raw.expectMethod(MethodId.BasicCancelOk, 1);
  t.equal(ok.consumerTag, 'gone');
});
