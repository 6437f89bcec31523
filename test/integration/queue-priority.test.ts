import type * as amqp from 'amqplib';
import t from 'tap';
import { brokerChannel, connect, delay, eventually, within } from '../support/broker.js';
import { restartableBroker } from '../support/data-dir.js';
import { bodies, drain, readyCount } from '../support/messages.js';

// Priority queues (x-max-priority): the highest priority waiting goes first,
// FIFO within a priority; no priority property counts as 0, a priority above
// the maximum as the maximum. Every expected order here is what RabbitMQ 3.10
// gave for the same script. (Argument validation: queue-arguments.test.ts.)

const toDlq = { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dlq' };

/** [body, priority] pairs: the same mix the RabbitMQ comparison used. */
const MIX: readonly (readonly [string, number | undefined])[] = [
  ['a', undefined], ['b', 1], ['c', 5], ['d', 9], ['e', 0], ['f', 3], ['g', 5], ['h', 255], ['i', 1],
];

async function publish(ch: amqp.Channel, queue: string, messages: readonly (readonly [string, number | undefined])[]): Promise<void> {
  for (const [body, priority] of messages) ch.sendToQueue(queue, Buffer.from(body), priority === undefined ? {} : { priority });
  await ch.checkQueue(queue);
}

t.test('higher priority first, FIFO within one; none counts as 0, above the maximum as the maximum', async (t) => {
  const { channel: ch } = await brokerChannel(t);
  await ch.assertQueue('q', { arguments: { 'x-max-priority': 5 } });
  await publish(ch, 'q', MIX);
  t.equal(await readyCount(ch, 'q'), MIX.length, 'declare-ok counts every level');
  t.same(bodies(await drain(ch, 'q')), ['c', 'd', 'g', 'h', 'f', 'b', 'i', 'a', 'e']);
});

t.test('a consumer gets the same order, a prefetch window at a time', async (t) => {
  const { channel: ch } = await brokerChannel(t);
  await ch.assertQueue('q', { arguments: { 'x-max-priority': 10 } });
  await publish(ch, 'q', Array.from({ length: 10 }, (_, i) => [`m${i}`, i % 3] as const));
  await ch.prefetch(3);
  const got: string[] = [];
  const done = new Promise<void>((resolve) => {
    void ch.consume('q', (m) => {
      if (m === null) return;
      got.push(m.content.toString());
      ch.ack(m);
      if (got.length === 10) resolve();
    });
  });
  await within(done, 5000, 'ten deliveries');
  t.same(got, ['m2', 'm5', 'm8', 'm1', 'm4', 'm7', 'm0', 'm3', 'm6', 'm9']);
});

t.test('x-max-priority 0 is a plain FIFO queue', async (t) => {
  const { channel: ch } = await brokerChannel(t);
  await ch.assertQueue('q', { arguments: { 'x-max-priority': 0 } });
  await publish(ch, 'q', [['a', 3], ['b', 0], ['c', 9]]);
  t.same(bodies(await drain(ch, 'q')), ['a', 'b', 'c']);
});

t.test('a requeued message goes back to its place within its priority, ahead of newer ones', async (t) => {
  const { channel: ch } = await brokerChannel(t);
  await ch.assertQueue('q', { arguments: { 'x-max-priority': 5 } });
  await publish(ch, 'q', MIX);
  const got: amqp.GetMessage[] = [];
  for (let i = 0; i < 4; i++) {
    const m = await ch.get('q');
    if (m !== false) got.push(m);
  }
  t.same(bodies(got), ['c', 'd', 'g', 'h']);
  ch.nack(got[3]!, false, true);
  ch.nack(got[0]!, false, true);
  ch.nack(got[2]!, false, true);
  await publish(ch, 'q', [['j', 5]]);
  t.same(bodies(await drain(ch, 'q')), ['cr', 'gr', 'hr', 'j', 'f', 'b', 'i', 'a', 'e']);
  ch.ack(got[1]!);
});

t.test('x-max-length drop-head drops the head in delivery order: the oldest of the highest priority', async (t) => {
  const { channel: ch } = await brokerChannel(t);
  await ch.assertQueue('dlq');
  await ch.assertQueue('q', { arguments: { 'x-max-priority': 5, 'x-max-length': 3, ...toDlq } });
  // As in RabbitMQ, a high-priority message arriving at a full queue of lower ones is the one dropped.
  await publish(ch, 'q', [['a', 0], ['b', 0], ['c', 0], ['d', 5], ['e', 2], ['f', 0]]);
  t.same(bodies(await drain(ch, 'q')), ['b', 'c', 'f']);
  t.same(bodies(await drain(ch, 'dlq')), ['d', 'e', 'a'], 'dead-lettered as they were dropped');
  await publish(ch, 'q', [['g', 5], ['h', 0], ['i', 0], ['j', 0]]);
  t.same(bodies(await drain(ch, 'q')), ['h', 'i', 'j']);
});

t.test('x-overflow reject-publish counts the messages of every priority', async (t) => {
  const { channel: ch } = await brokerChannel(t);
  await ch.assertQueue('q', { arguments: { 'x-max-priority': 5, 'x-max-length': 2, 'x-overflow': 'reject-publish' } });
  await publish(ch, 'q', [['a', 0], ['b', 5], ['c', 5], ['d', 0]]);
  t.same(bodies(await drain(ch, 'q')), ['b', 'a']);
});

t.test('an expired message is never delivered, and goes even when stuck behind a higher-priority one', async (t) => {
  const { channel: ch } = await brokerChannel(t);
  await ch.assertQueue('dlq');
  await ch.assertQueue('q', { arguments: { 'x-max-priority': 5, ...toDlq } });
  ch.sendToQueue('q', Buffer.from('low-short'), { priority: 0, expiration: '100' });
  ch.sendToQueue('q', Buffer.from('high'), { priority: 5 });
  ch.sendToQueue('q', Buffer.from('low'), { priority: 0 });
  // RabbitMQ 3.10 removes it only once it reaches the head of the queue; here it goes within a second anyway.
  await eventually(async () => (await readyCount(ch, 'dlq')) === 1, 3000, 'dead-lettered while behind "high"');
  t.equal(await readyCount(ch, 'q'), 2);
  t.same(bodies(await drain(ch, 'q')), ['high', 'low']);
  t.same(bodies(await drain(ch, 'dlq')), ['low-short']);
});

t.test('x-message-ttl applies to every priority', async (t) => {
  const { channel: ch } = await brokerChannel(t);
  await ch.assertQueue('q', { arguments: { 'x-max-priority': 5, 'x-message-ttl': 100 } });
  await publish(ch, 'q', [['a', 0], ['b', 5]]);
  await delay(150);
  await publish(ch, 'q', [['c', 0]]);
  t.same(bodies(await drain(ch, 'q')), ['c']);
});

t.test('purge empties every priority', async (t) => {
  const { channel: ch } = await brokerChannel(t);
  await ch.assertQueue('q', { arguments: { 'x-max-priority': 5 } });
  await publish(ch, 'q', MIX);
  t.equal((await ch.purgeQueue('q')).messageCount, MIX.length);
  t.equal(await ch.get('q'), false);
});

/** Persistent messages 0..n-1 with priority i % 4 and body i, confirmed. */
async function publishDurable(ch: amqp.ConfirmChannel, n: number): Promise<void> {
  for (let i = 0; i < n; i++) ch.sendToQueue('pq', Buffer.from(String(i)), { persistent: true, priority: i % 4 });
  await ch.waitForConfirms();
}

t.test('a durable priority queue past the in-memory limit keeps its order, and keeps it across a restart', async (t) => {
  const N = 6000;
  const expected = [3, 2, 1, 0].flatMap((p) => Array.from({ length: N / 4 }, (_, k) => String(4 * k + p)));
  const b = await restartableBroker(t);
  let connection = await connect(t, b.broker);
  let ch: amqp.Channel = await connection.createConfirmChannel();
  await ch.assertQueue('pq', { durable: true, arguments: { 'x-max-priority': 3 } });
  await publishDurable(ch as amqp.ConfirmChannel, N);
  const unacked = [await ch.get('pq'), await ch.get('pq')];
  t.same(unacked.map((m) => m !== false && m.content.toString()), ['3', '7'], 'the head of the highest priority first');

  await b.restart();
  connection = await connect(t, b.broker);
  ch = await connection.createChannel();
  t.equal(await readyCount(ch, 'pq'), N, 'every message recovered, the unacked ones too');
  const got = await drain(ch, 'pq');
  t.equal(got.length, N);
  t.same(bodies(got.slice(0, 3)), ['3r', '7r', '11'], 'the unacked ones back at their place, marked redelivered');
  t.same(
    got.map((m) => m.content.toString()),
    expected,
    'highest priority first, publish order within each',
  );
});
