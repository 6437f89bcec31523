import type * as amqp from 'amqplib';
import t from 'tap';
import { brokerChannel, connect, delay, eventually } from '../support/broker.js';
import { restartableBroker } from '../support/data-dir.js';
import { bodies, drain, readyCount } from '../support/messages.js';

// x-max-length and x-max-length-bytes count the messages waiting for
// delivery (not those delivered and unacked) and their body bytes. At the
// limit, x-overflow drop-head (the default) drops the oldest, dead-lettering
// it as maxlen; reject-publish refuses the new one (a nack under confirms);
// reject-publish-dlx refuses it and dead-letters it.

const toDlq = { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dlq' };

/** Publishes and waits for the broker's confirm: 'ack' or 'nack'. */
function confirmOf(ch: amqp.ConfirmChannel, queue: string, body: string): Promise<string> {
  return new Promise((resolve) => ch.sendToQueue(queue, Buffer.from(body), {}, (err) => resolve(err ? 'nack' : 'ack')));
}

async function deaths(ch: amqp.Channel): Promise<string[]> {
  return (await drain(ch, 'dlq')).map((m) => `${m.content.toString()}:${(m.properties.headers?.['x-death'] as { reason: string }[])[0]!.reason}`);
}

t.test('drop-head: the oldest messages go, dead-lettered as maxlen', async (t) => {
  const { channel: ch } = await brokerChannel(t);
  await ch.assertQueue('dlq');
  await ch.assertQueue('q', { arguments: { 'x-max-length': 2, ...toDlq } });
  for (const body of ['1', '2', '3', '4']) ch.sendToQueue('q', Buffer.from(body));
  await eventually(async () => (await readyCount(ch, 'dlq')) === 2, 2000, 'two dropped');
  t.same(await deaths(ch), ['1:maxlen', '2:maxlen']);
  t.same(bodies(await drain(ch, 'q')), ['3', '4']);
});

t.test('x-max-length-bytes counts body bytes; a message larger than the limit does not stay', async (t) => {
  const { channel: ch } = await brokerChannel(t);
  await ch.assertQueue('q', { arguments: { 'x-max-length-bytes': 10 } });
  for (const body of ['12345', '67890', 'a']) ch.sendToQueue('q', Buffer.from(body));
  await eventually(async () => (await readyCount(ch, 'q')) === 2, 2000, 'within 10 bytes');
  t.same(bodies(await drain(ch, 'q')), ['67890', 'a']);
  ch.sendToQueue('q', Buffer.from('12345678901'));
  await ch.assertQueue('q', { arguments: { 'x-max-length-bytes': 10 } });
  t.equal(await readyCount(ch, 'q'), 0, 'an 11-byte message is dropped at once');
});

t.test('unacked deliveries do not count; requeueing past the limit drops the head', async (t) => {
  const { channel: ch } = await brokerChannel(t);
  await ch.assertQueue('dlq');
  await ch.assertQueue('q', { arguments: { 'x-max-length': 2, ...toDlq } });
  ch.sendToQueue('q', Buffer.from('1'));
  ch.sendToQueue('q', Buffer.from('2'));
  const first = await ch.get('q');
  ch.sendToQueue('q', Buffer.from('3'));
  t.equal(await readyCount(ch, 'q'), 2, 'room for a third while the first is unacked');
  t.equal(await readyCount(ch, 'dlq'), 0);
  if (first !== false) ch.nack(first, false, true);
  await eventually(async () => (await readyCount(ch, 'dlq')) === 1, 2000, 'the requeued head dropped');
  t.same(await deaths(ch), ['1:maxlen']);
  t.same(bodies(await drain(ch, 'q')), ['2', '3']);
});

t.test('a message for a waiting consumer is delivered even at x-max-length 0 with drop-head', async (t) => {
  const { channel: ch } = await brokerChannel(t);
  await ch.assertQueue('q', { arguments: { 'x-max-length': 0 } });
  const got: string[] = [];
  await ch.consume('q', (m) => m && got.push(m.content.toString()), { noAck: true });
  ch.sendToQueue('q', Buffer.from('direct'));
  await eventually(() => got.length === 1, 2000, 'delivered');
  t.same(got, ['direct']);
});

t.test('reject-publish: a publisher with confirms gets a nack; without confirms the message is dropped', async (t) => {
  const { connection, channel: ch } = await brokerChannel(t);
  await ch.assertQueue('dlq');
  await ch.assertQueue('q', { arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish', ...toDlq } });
  const cc = await connection.createConfirmChannel();
  t.equal(await confirmOf(cc, 'q', 'first'), 'ack');
  t.equal(await confirmOf(cc, 'q', 'refused'), 'nack');
  ch.sendToQueue('q', Buffer.from('dropped'));
  t.equal(await readyCount(ch, 'q'), 1, 'neither was queued');
  t.equal(await readyCount(ch, 'dlq'), 0, 'nor dead-lettered');
  t.same(bodies(await drain(ch, 'q')), ['first'], 'the queue kept the oldest');
  t.equal(await confirmOf(cc, 'q', 'room again'), 'ack', 'taken once there is room');
});

t.test('reject-publish with a waiting consumer still refuses at x-max-length 0', async (t) => {
  const { connection } = await brokerChannel(t);
  const cc = await connection.createConfirmChannel();
  await cc.assertQueue('q', { arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' } });
  const got: string[] = [];
  await cc.consume('q', (m) => m && got.push(m.content.toString()), { noAck: true });
  t.equal(await confirmOf(cc, 'q', 'x'), 'nack');
  await delay(50);
  t.same(got, [], 'not delivered either');
});

t.test('reject-publish-dlx: nacked and dead-lettered as maxlen, with its expiration recorded', async (t) => {
  const { connection, channel: ch } = await brokerChannel(t);
  await ch.assertQueue('dlq');
  await ch.assertQueue('q', { arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish-dlx', ...toDlq } });
  const cc = await connection.createConfirmChannel();
  t.equal(await confirmOf(cc, 'q', 'kept'), 'ack');
  const refused = await new Promise<string>((resolve) =>
    cc.sendToQueue('q', Buffer.from('refused'), { expiration: '5000' }, (err) => resolve(err ? 'nack' : 'ack')),
  );
  t.equal(refused, 'nack');
  await eventually(async () => (await readyCount(ch, 'dlq')) === 1, 2000, 'dead-lettered');
  const dead = await ch.get('dlq', { noAck: true });
  t.ok(dead);
  if (dead === false) return;
  t.equal(dead.content.toString(), 'refused');
  const death = (dead.properties.headers?.['x-death'] as unknown as Record<string, unknown>[])[0]!;
  t.same([death['reason'], death['queue'], death['original-expiration']], ['maxlen', 'q', '5000']);
  t.equal(dead.properties.expiration, undefined, 'the expiration property is gone');
  t.same(bodies(await drain(ch, 'q')), ['kept']);
});

t.test('a message routed to a full reject-publish queue and another is nacked, and the other queue has it', async (t) => {
  const { connection, channel: ch } = await brokerChannel(t);
  await ch.assertExchange('fan', 'fanout');
  await ch.assertQueue('full', { arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' } });
  await ch.assertQueue('open');
  await ch.bindQueue('full', 'fan', '');
  await ch.bindQueue('open', 'fan', '');
  const cc = await connection.createConfirmChannel();
  let returned = false;
  cc.on('return', () => (returned = true));
  const confirm = await new Promise<string>((resolve) => cc.publish('fan', '', Buffer.from('x'), { mandatory: true }, (err) => resolve(err ? 'nack' : 'ack')));
  t.equal(confirm, 'nack');
  t.notOk(returned, 'routed, so not returned');
  t.equal(await readyCount(ch, 'open'), 1);
  t.equal(await readyCount(ch, 'full'), 0);
});

t.test('a durable queue counts all its recovered messages against x-max-length-bytes after a restart', async (t) => {
  const b = await restartableBroker(t);
  const ch = await (await connect(t, b.broker)).createConfirmChannel();
  // More than the broker reads back at once after a restart: the sizes of all of them must count.
  const count = 600;
  await ch.assertQueue('q', { durable: true, arguments: { 'x-max-length-bytes': count } });
  for (let i = 0; i < count; i++) ch.sendToQueue('q', Buffer.from(String(i % 10)), { persistent: true });
  await ch.waitForConfirms();
  await b.restart();
  const after = await (await connect(t, b.broker)).createChannel();
  after.sendToQueue('q', Buffer.from('x'), { persistent: true });
  await eventually(async () => (await readyCount(after, 'q')) === count, 2000, 'the oldest dropped to make room');
  const rest = bodies(await drain(after, 'q'));
  t.same([rest[0], rest.at(-1)], ['1', 'x'], 'the first message went');
});
