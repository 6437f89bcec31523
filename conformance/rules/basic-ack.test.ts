import type * as amqp from 'amqplib';
import t from 'tap';
import { collect, eventually, within } from '../../test/support/broker.js';
import { MethodId } from '../../src/protocol/generated/amqp-methods.js';
import { open, rawContent, rawOpen, rawPublish, refusal, removeAfter, session, target, unique } from './support.js';

// basic.deliver, basic.ack, basic.reject, basic.recover(-async) and basic.nack.


async function queued(channel: amqp.Channel, queue: string): Promise<number> {
  return (await channel.checkQueue(queue)).messageCount;
}

/** One consumer that rejects or nacks with requeue until the message has been delivered `times` times. */
async function requeueLoop(channel: amqp.Channel, queue: string, times: number, settle: (m: amqp.ConsumeMessage) => void): Promise<amqp.ConsumeMessage[]> {
  const seen: amqp.ConsumeMessage[] = [];
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => (done = resolve));
  await channel.consume(
    queue,
    (m) => {
      if (m === null) return;
      seen.push(m);
      if (seen.length < times) settle(m);
      else {
        channel.ack(m);
        done();
      }
    },
    { noAck: false, consumerTag: 'only' },
  );
  channel.sendToQueue(queue, Buffer.from('again and again'));
  await within(finished, 5000, `${times} deliveries`);
  return seen;
}

t.test('[basic.deliver/01] a message rejected with requeue again and again keeps being delivered (no delivery limit on classic queues, as in RabbitMQ)', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { queue } = await channel.assertQueue(unique('no-limit'), { exclusive: true });
  const seen = await requeueLoop(channel, queue, 8, (m) => channel.reject(m, true));
  t.equal(seen.length, 8, 'delivered 8 times');
  t.same(seen.map((m) => m.fields.redelivered), [false, true, true, true, true, true, true, true], 'redelivered from the second time on');
});

t.test('[basic.reject.requeue/01] [basic.reject/02] a rejected, requeued message goes back to the same single consumer, as RabbitMQ does', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { queue } = await channel.assertQueue(unique('reject-requeue'), { exclusive: true });
  const seen = await requeueLoop(channel, queue, 2, (m) => channel.reject(m, true));
  t.same(seen.map((m) => m.fields.consumerTag), ['only', 'only'], 'the same consumer');
});

t.test('[basic.nack.requeue/01] [basic.nack/02] a nacked, requeued message goes back to the same single consumer, as RabbitMQ does', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { queue } = await channel.assertQueue(unique('nack-requeue'), { exclusive: true });
  const seen = await requeueLoop(channel, queue, 2, (m) => channel.nack(m, false, true));
  t.same(seen.map((m) => [m.fields.consumerTag, m.fields.redelivered]), [['only', false], ['only', true]]);
});

t.test('[basic.ack.multiple/exists] acknowledging a tag twice closes the channel with 406', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { queue } = await channel.assertQueue(unique('double-ack'), { exclusive: true });
  const [m] = await (channel.sendToQueue(queue, Buffer.from('x')), collect(channel, queue, 1, { noAck: false }));
  channel.ack(m!);
  channel.ack(m!);
  t.equal((await refusal(channel.checkQueue(queue)))?.code, 406);
});

t.test('[basic.ack.multiple/exists] on a transacted channel an unknown tag is refused at once, not at commit', async (t) => {
  const to = await target(t);
  const raw = await rawOpen(t, to);
  await raw.openChannel(1);
  raw.method(1, { id: MethodId.TxSelect });
  await raw.expectMethod(MethodId.TxSelectOk, 1);
  raw.method(1, { id: MethodId.BasicAck, deliveryTag: 99, multiple: false });
  const close = await raw.expectMethod(MethodId.ChannelClose, 1);
  t.equal(close.replyCode, 406, 'channel.close 406 before any tx.commit');
});

t.test('[basic.nack.multiple/exists] nacking a tag twice closes the channel with 406', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { queue } = await channel.assertQueue(unique('double-nack'), { exclusive: true });
  const [m] = await (channel.sendToQueue(queue, Buffer.from('x')), collect(channel, queue, 1, { noAck: false }));
  channel.nack(m!, false, false);
  channel.nack(m!, false, false);
  t.equal((await refusal(channel.checkQueue(queue)))?.code, 406);
});

t.test('[basic.reject/02] [basic.nack/02] reject and nack with requeue put the message back; without requeue they drop it', async (t) => {
  const to = await target(t);
  const { connection, channel: observer } = await session(t, to);
  const { queue } = await observer.assertQueue(unique('settle'), { exclusive: true });
  for (const [what, back, drop] of [
    ['reject', (ch: amqp.Channel, m: amqp.Message) => ch.reject(m, true), (ch: amqp.Channel, m: amqp.Message) => ch.reject(m, false)],
    ['nack', (ch: amqp.Channel, m: amqp.Message) => ch.nack(m, false, true), (ch: amqp.Channel, m: amqp.Message) => ch.nack(m, false, false)],
  ] as const) {
    const channel = await connection.createChannel();
    channel.sendToQueue(queue, Buffer.from(what));
    await eventually(async () => (await queued(channel, queue)) === 1, 2000, 'queued');
    const first = await channel.get(queue, { noAck: false });
    if (first === false) throw new Error('basic.get found nothing');
    back(channel, first);
    await eventually(async () => (await queued(channel, queue)) === 1, 2000, `${what} with requeue puts it back`);
    const second = await channel.get(queue, { noAck: false });
    t.equal(second !== false && second.fields.redelivered, true, `${what}: back in the queue, marked redelivered`);
    if (second !== false) drop(channel, second);
    // Closing the channel would requeue the message had the broker not dropped it.
    await channel.close();
    t.equal(await queued(observer, queue), 0, `${what} without requeue drops it`);
  }
});

t.test('[basic.nack/02] nack with multiple settles every earlier delivery too', async (t) => {
  const to = await target(t);
  const { connection, channel: observer } = await session(t, to);
  const { queue } = await observer.assertQueue(unique('nack-multiple'), { exclusive: true });
  const channel = await connection.createChannel();
  for (let i = 0; i < 5; i++) channel.sendToQueue(queue, Buffer.from(String(i)));
  await channel.prefetch(5);
  const got = await collect(channel, queue, 5, { noAck: false });
  await channel.cancel(got[0]!.fields.consumerTag);
  channel.nack(got[2]!, true, false);
  channel.ack(got[3]!);
  await channel.close();
  t.equal(await queued(observer, queue), 1, 'the first three were dropped, the fourth acked: only the fifth comes back');
});

t.test('[basic.recover/01] [basic.recover-async/01] recover redelivers the unacknowledged messages with redelivered set', async (t) => {
  const to = await target(t);
  const raw = await rawOpen(t, to);
  await raw.openChannel(1);
  const queue = unique('recover');
  raw.method(1, { id: MethodId.QueueDeclare, queue, passive: false, durable: false, exclusive: true, autoDelete: false, noWait: false, arguments: {} });
  await raw.expectMethod(MethodId.QueueDeclareOk, 1);
  rawPublish(raw, 1, Buffer.from('twice'), { routingKey: queue });
  raw.method(1, { id: MethodId.BasicConsume, queue, consumerTag: 'c', noLocal: false, noAck: false, exclusive: false, noWait: false, arguments: {} });
  await raw.expectMethod(MethodId.BasicConsumeOk, 1);
  const first = await raw.expectMethod(MethodId.BasicDeliver, 1);
  await rawContent(raw);
  t.equal(first.redelivered, false, 'first delivery');
  raw.method(1, { id: MethodId.BasicRecover, requeue: true });
  // recover-ok and the redelivery may come in either order.
  const answers: string[] = [];
  while (answers.length < 2) {
    const { method } = await raw.next();
    if (method?.id === MethodId.BasicRecoverOk) answers.push('recover-ok');
    else if (method?.id === MethodId.BasicDeliver) {
      answers.push(`redelivered=${String(method.redelivered)} ${(await rawContent(raw)).body.toString()}`);
    } else throw new Error(`unexpected ${JSON.stringify(method)}`);
  }
  t.same(answers.sort(), ['recover-ok', 'redelivered=true twice'], 'recover-ok and the redelivery');
  raw.method(1, { id: MethodId.BasicRecoverAsync, requeue: true });
  const third = await raw.expectMethod(MethodId.BasicDeliver, 1);
  t.equal(third.redelivered, true, 'recover-async redelivers it too, marked redelivered');
});

t.test('[basic.reject/01] [basic.nack/01] reject and nack are processed while the broker is still sending a large content', async (t) => {
  const to = await target(t);
  const { channel: observer } = await session(t, to);
  const queue = unique('busy');
  removeAfter(t, to, { queues: [queue] });
  await observer.assertQueue(queue, { durable: false });
  const raw = await rawOpen(t, to);
  await raw.openChannel(1);
  const big = Buffer.alloc(32 * 1024 * 1024, 0x42);
  for (const body of [Buffer.from('one'), Buffer.from('two'), big]) rawPublish(raw, 1, body, { routingKey: queue, frameMax: 131072 });
  await eventually(async () => (await queued(observer, queue)) === 3, 10000, 'three queued');
  for (let tag = 1; tag <= 2; tag++) {
    raw.method(1, { id: MethodId.BasicGet, queue, noAck: false });
    await raw.expectMethod(MethodId.BasicGetOk, 1);
    await rawContent(raw);
  }
  raw.method(1, { id: MethodId.BasicGet, queue, noAck: false });
  await raw.expectMethod(MethodId.BasicGetOk, 1);
  raw.pauseReading();
  raw.method(1, { id: MethodId.BasicReject, deliveryTag: 1, requeue: true });
  raw.method(1, { id: MethodId.BasicNack, deliveryTag: 2, multiple: false, requeue: true });
  await eventually(async () => (await queued(observer, queue)) === 2, 5000, 'both requeued');
  t.ok(raw.received().length < big.length, 'processed before the client had taken the large content');
  raw.resumeReading();
  t.ok((await rawContent(raw, 10000)).body.equals(big), 'the large content then arrives whole');
});

t.test('[basic.nack/04] a publisher in confirm mode is sent basic.nack when a queue refuses its message', async (t) => {
  const to = await target(t);
  const connection = await open(t, to);
  const channel = await connection.createConfirmChannel();
  const { queue } = await channel.assertQueue(unique('reject-publish'), { exclusive: true, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
  const outcome = (body: string): Promise<boolean> => new Promise((resolve) => channel.sendToQueue(queue, Buffer.from(body), {}, (err) => resolve(err === null || err === undefined)));
  t.equal(await within(outcome('fits'), 3000, 'first confirm'), true, 'the first message is acked');
  t.equal(await within(outcome('overflows'), 3000, 'second confirm'), false, 'the second is nacked');
});
