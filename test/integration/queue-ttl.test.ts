import type * as amqp from 'amqplib';
import t from 'tap';
import { brokerChannel, connect, delay, eventually } from '../support/broker.js';
import { restartableBroker } from '../support/data-dir.js';
import { bodies, drain, readyCount } from '../support/messages.js';

// Message TTL: x-message-ttl on the queue and the expiration property on a
// message. An expired message is never delivered; it is removed (and
// dead-lettered, with a dead-letter exchange) even when it is stuck behind
// messages that expire later, which RabbitMQ itself only does at the head.

const toDlq = { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dlq' };

async function deadLetterReasons(ch: amqp.Channel): Promise<string[]> {
  return (await drain(ch, 'dlq')).map((m) => `${m.content.toString()}:${(m.properties.headers?.['x-death'] as { reason: string }[])[0]!.reason}`);
}

t.test('a message past the queue TTL is not delivered, and goes to the dead-letter exchange', async (t) => {
  const { channel: ch } = await brokerChannel(t);
  await ch.assertQueue('dlq');
  await ch.assertQueue('q', { arguments: { 'x-message-ttl': 100, ...toDlq } });
  ch.sendToQueue('q', Buffer.from('old'));
  await eventually(async () => (await readyCount(ch, 'dlq')) === 1, 3000, 'dead-lettered');
  t.equal(await ch.get('q'), false, 'nothing left to get');
  t.same(await deadLetterReasons(ch), ['old:expired']);
});

t.test('a short expiration stuck behind a long one is removed without waiting for the head', async (t) => {
  const { channel: ch } = await brokerChannel(t);
  await ch.assertQueue('dlq');
  await ch.assertQueue('q', { arguments: toDlq });
  ch.sendToQueue('q', Buffer.from('long'), { expiration: '60000' });
  ch.sendToQueue('q', Buffer.from('short'), { expiration: '100' });
  ch.sendToQueue('q', Buffer.from('forever'));
  ch.sendToQueue('q', Buffer.from('short2'), { expiration: '150' });
  await eventually(async () => (await readyCount(ch, 'dlq')) === 2, 5000, 'both short ones dead-lettered while the long one waits');
  t.same(await deadLetterReasons(ch), ['short:expired', 'short2:expired']);
  t.same(bodies(await drain(ch, 'q')), ['long', 'forever'], 'the others stay, in order');
});

t.test('a message with an expiration waits behind one without, in a queue with no TTL, and still expires', async (t) => {
  const { channel: ch } = await brokerChannel(t);
  await ch.assertQueue('q');
  ch.sendToQueue('q', Buffer.from('kept'));
  ch.sendToQueue('q', Buffer.from('brief'), { expiration: '50' });
  await eventually(async () => (await readyCount(ch, 'q')) === 1, 5000, 'the expired one removed');
  t.same(bodies(await drain(ch, 'q')), ['kept']);
});

t.test('the sooner of the queue TTL and the message expiration applies', async (t) => {
  const { channel: ch } = await brokerChannel(t);
  await ch.assertQueue('q', { arguments: { 'x-message-ttl': 60_000 } });
  ch.sendToQueue('q', Buffer.from('brief'), { expiration: '50' });
  ch.sendToQueue('q', Buffer.from('kept'), { expiration: '120000' });
  await eventually(async () => (await readyCount(ch, 'q')) === 1, 5000, 'the short one expired');
  t.same(bodies(await drain(ch, 'q')), ['kept']);
});

t.test('TTL 0: delivered to a consumer ready for it, expired otherwise', async (t) => {
  const { connection, channel: ch } = await brokerChannel(t);
  await ch.assertQueue('dlq');
  await ch.assertQueue('q', { arguments: { 'x-message-ttl': 0, ...toDlq } });
  ch.sendToQueue('q', Buffer.from('nobody'));
  await eventually(async () => (await readyCount(ch, 'dlq')) === 1, 3000, 'expired at once with no consumer');
  t.same(await deadLetterReasons(ch), ['nobody:expired']);

  const consumer = await connection.createChannel();
  const got: string[] = [];
  await consumer.consume('q', (m) => m && got.push(m.content.toString()), { noAck: true });
  ch.sendToQueue('q', Buffer.from('taken'));
  await eventually(() => got.length === 1, 3000, 'delivered');
  t.same(got, ['taken']);
  t.equal(await readyCount(ch, 'dlq'), 0, 'not dead-lettered');

  await ch.assertQueue('e0');
  ch.sendToQueue('e0', Buffer.from('zero'), { expiration: '0' });
  await readyCount(ch, 'e0');
  t.equal(await ch.get('e0'), false, 'expiration 0 with no consumer: gone before any basic.get');
});

t.test('an expired message is skipped when a consumer gets room, and one requeued after expiry is dead-lettered', async (t) => {
  const { connection, channel: ch } = await brokerChannel(t);
  await ch.assertQueue('dlq');
  await ch.assertQueue('q', { arguments: { 'x-message-ttl': 300, ...toDlq } });
  const consumer = await connection.createChannel();
  await consumer.prefetch(1);
  const got: amqp.ConsumeMessage[] = [];
  await consumer.consume('q', (m) => m && got.push(m));
  ch.sendToQueue('q', Buffer.from('held'));
  ch.sendToQueue('q', Buffer.from('waiting'));
  await eventually(() => got.length === 1, 3000, 'first delivered');
  // The first stays unacked past the TTL: delivered messages do not expire, waiting ones do.
  await eventually(async () => (await readyCount(ch, 'dlq')) === 1, 3000, 'the waiting one expired');
  consumer.nack(got[0]!, false, true);
  await eventually(async () => (await readyCount(ch, 'dlq')) === 2, 3000, 'the requeued one expired too');
  await delay(100);
  t.same(bodies(got), ['held'], 'no expired message was delivered');
  t.same(await deadLetterReasons(ch), ['waiting:expired', 'held:expired']);
});

t.test('durable queue TTL: recovered messages expire after a restart', async (t) => {
  const b = await restartableBroker(t);
  const ch = await (await connect(t, b.broker)).createChannel();
  await ch.assertQueue('dlq', { durable: true });
  await ch.assertQueue('ttl', { durable: true, arguments: { 'x-message-ttl': 1500, ...toDlq } });
  await ch.assertQueue('own', { durable: true, arguments: toDlq });
  ch.sendToQueue('ttl', Buffer.from('queue-ttl'), { persistent: true });
  ch.sendToQueue('own', Buffer.from('kept'), { persistent: true });
  ch.sendToQueue('own', Buffer.from('message-ttl'), { persistent: true, expiration: '1500' });
  await eventually(async () => (await readyCount(ch, 'own')) === 2, 2000, 'published');
  await b.restart();
  const after = await (await connect(t, b.broker)).createChannel();
  t.same([await readyCount(after, 'ttl'), await readyCount(after, 'own')], [1, 2], 'still there right after the restart');
  await eventually(async () => (await readyCount(after, 'dlq')) === 2, 6000, 'both expired and dead-lettered');
  t.same((await deadLetterReasons(after)).sort(), ['message-ttl:expired', 'queue-ttl:expired']);
  t.same(bodies(await drain(after, 'own')), ['kept']);
});

t.test('in a long durable queue, an expired message among those waiting on disk is found and removed', async (t) => {
  const { connection } = await brokerChannel(t);
  const ch = await connection.createConfirmChannel();
  await ch.assertQueue('dlq');
  await ch.assertQueue('long', { durable: true, arguments: toDlq });
  // More than a durable queue keeps in memory (4096 messages): the last ones wait in the journal only.
  ch.sendToQueue('long', Buffer.from('head'), { persistent: true, expiration: '60000' });
  for (let i = 0; i < 5000; i++) ch.sendToQueue('long', Buffer.from(`m${i}`), { persistent: true });
  ch.sendToQueue('long', Buffer.from('deep'), { persistent: true, expiration: '200' });
  ch.sendToQueue('long', Buffer.from('last'), { persistent: true });
  await ch.waitForConfirms();
  await eventually(async () => (await readyCount(ch, 'dlq')) === 1, 5000, 'the deep one dead-lettered');
  t.same(await deadLetterReasons(ch), ['deep:expired']);
  const rest = bodies(await drain(ch, 'long'));
  t.equal(rest.length, 5002, 'everything else is still there');
  t.same([rest[0], rest[5000], rest[5001]], ['head', 'm4999', 'last'], 'in order');
});
