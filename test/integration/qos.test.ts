import t from 'tap';
import type * as amqp from 'amqplib';
import { brokerChannel } from '../support/broker.js';
import { bodies, publishNumbered, readyCount } from '../support/messages.js';

/*
 * basic.qos as RabbitMQ 3.x implements it: global=false limits each consumer
 * created after it, global=true limits the whole channel. Deliveries happen
 * before the broker answers a later method on the same channel, so a round
 * trip (readyCount) shows everything the limits let through.
 */

/** A queue of its own holding "1".."n". */
async function filledQueue(channel: amqp.Channel, n: number): Promise<string> {
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await publishNumbered(channel, queue, 1, n);
  return queue;
}

/** Consumes with acks, keeping the deliveries. */
async function consumer(channel: amqp.Channel, queue: string, options: amqp.Options.Consume = {}): Promise<amqp.ConsumeMessage[]> {
  const got: amqp.ConsumeMessage[] = [];
  await channel.consume(queue, (m) => m !== null && got.push(m), options);
  return got;
}

t.test('prefetch per consumer: a consumer at its limit gets the next message only after an ack', async (t) => {
  const { channel } = await brokerChannel(t);
  const queue = await filledQueue(channel, 5);
  await channel.prefetch(2);
  const got = await consumer(channel, queue);
  t.equal(await readyCount(channel, queue), 3);
  t.same(bodies(got), ['1', '2']);
  channel.ack(got[0]!);
  t.equal(await readyCount(channel, queue), 2);
  t.same(bodies(got), ['1', '2', '3']);
  channel.ack(got[2]!, true);
  t.equal(await readyCount(channel, queue), 0);
  t.same(bodies(got), ['1', '2', '3', '4', '5']);
});

t.test('prefetch 0 means no limit', async (t) => {
  const { channel } = await brokerChannel(t);
  const queue = await filledQueue(channel, 5);
  await channel.prefetch(2);
  await channel.prefetch(0);
  const got = await consumer(channel, queue);
  t.equal(await readyCount(channel, queue), 0);
  t.equal(got.length, 5);
});

t.test('a per-consumer prefetch applies to consumers created after it, not to existing ones', async (t) => {
  const { channel } = await brokerChannel(t);
  const first = await filledQueue(channel, 10);
  const second = await filledQueue(channel, 10);
  await channel.prefetch(2);
  const early = await consumer(channel, first);
  await channel.prefetch(4);
  channel.ack(early[0]!);
  t.equal(await readyCount(channel, first), 7, 'the early consumer keeps its limit of 2');
  const late = await consumer(channel, second);
  t.equal(await readyCount(channel, second), 6, 'a new consumer gets the new limit of 4');
  t.equal(late.length, 4);
});

t.test('prefetch global=true limits the channel as a whole, and raising it takes effect at once', async (t) => {
  const { channel } = await brokerChannel(t);
  const first = await filledQueue(channel, 10);
  const second = await filledQueue(channel, 10);
  await channel.prefetch(3, true);
  const a = await consumer(channel, first);
  const b = await consumer(channel, second);
  await readyCount(channel, first);
  t.equal(a.length + b.length, 3, 'three unacked across both consumers');
  channel.ack(a[0]!);
  await readyCount(channel, first);
  t.equal(a.length + b.length, 4, 'one ack, one more delivery');
  await channel.prefetch(5, true);
  await readyCount(channel, first);
  t.equal(a.length + b.length, 6, 'the raised limit applies to the existing consumers');
});

t.test('a slot freed under global prefetch goes to whichever consumer has a message', async (t) => {
  const { channel } = await brokerChannel(t);
  const first = await filledQueue(channel, 1);
  const second = await filledQueue(channel, 3);
  await channel.prefetch(1, true);
  const a = await consumer(channel, first);
  const b = await consumer(channel, second);
  t.equal(await readyCount(channel, second), 3, 'the channel is at its limit');
  channel.ack(a[0]!);
  t.equal(await readyCount(channel, second), 2, 'the ack on one queue lets the other deliver');
  t.same(bodies(b), ['1']);
});

t.test('per-consumer and global prefetch together: each consumer and the channel stay within theirs', async (t) => {
  const { channel } = await brokerChannel(t);
  const queues = [await filledQueue(channel, 10), await filledQueue(channel, 10), await filledQueue(channel, 10)];
  await channel.prefetch(2, false);
  await channel.prefetch(5, true);
  const got: amqp.ConsumeMessage[][] = [];
  for (const q of queues) got.push(await consumer(channel, q));
  await readyCount(channel, queues[0]!);
  t.same(
    got.map((g) => g.length),
    [2, 2, 1],
  );
});

t.test('basic.get deliveries do not count against the global limit', async (t) => {
  const { channel } = await brokerChannel(t);
  const queue = await filledQueue(channel, 5);
  await channel.prefetch(2, true);
  t.ok(await channel.get(queue));
  t.ok(await channel.get(queue));
  const got = await consumer(channel, queue);
  t.equal(await readyCount(channel, queue), 1);
  t.same(bodies(got), ['3', '4']);
});

t.test('no-ack deliveries do not count against the global limit, but wait while the channel is at it', async (t) => {
  const { channel } = await brokerChannel(t);
  const acked = await filledQueue(channel, 1);
  const unacked = await filledQueue(channel, 3);
  await channel.prefetch(1, true);
  const free = await consumer(channel, unacked, { noAck: true });
  t.equal(await readyCount(channel, unacked), 0, 'three no-ack deliveries under a limit of one');
  const limited = await consumer(channel, acked);
  t.equal(limited.length, 1);
  await publishNumbered(channel, unacked, 4, 5);
  t.equal(await readyCount(channel, unacked), 2, 'RabbitMQ holds no-ack consumers too while the channel is at its limit');
  channel.ack(limited[0]!);
  t.equal(await readyCount(channel, unacked), 0);
  t.same(bodies(free), ['1', '2', '3', '4', '5']);
});

t.test('a per-consumer limit does not hold back a no-ack consumer', async (t) => {
  const { channel } = await brokerChannel(t);
  const queue = await filledQueue(channel, 5);
  await channel.prefetch(1);
  const got = await consumer(channel, queue, { noAck: true });
  t.equal(await readyCount(channel, queue), 0);
  t.equal(got.length, 5);
});

t.test('under global prefetch 1, the freed slot goes round the channel\'s consumers: no queue starves (as in RabbitMQ)', async (t) => {
  const { channel } = await brokerChannel(t);
  const queues = ['r1', 'r2', 'r3'];
  for (const q of queues) {
    await channel.assertQueue(q, { durable: false });
    for (let i = 0; i < 100; i++) channel.sendToQueue(q, Buffer.from(`${q}.${i}`));
  }
  await channel.prefetch(1, true);
  const counts: Record<string, number> = { r1: 0, r2: 0, r3: 0 };
  let total = 0;
  let done: () => void = () => {};
  const ninetyNine = new Promise<void>((resolve) => (done = resolve));
  for (const q of queues) {
    await channel.consume(q, (m) => {
      if (m === null || total >= 99) return;
      counts[q]!++;
      if (++total === 99) done();
      channel.ack(m);
    });
  }
  await ninetyNine;
  t.ok(queues.every((q) => counts[q]! >= 20), `every queue got a fair share of 99 deliveries: ${JSON.stringify(counts)}`);
});
