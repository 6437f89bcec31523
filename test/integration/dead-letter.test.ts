import type * as amqp from 'amqplib';
import t, { type Test } from 'tap';
import type { Broker } from '../../src/index.js';
import { Decoder } from '../../src/protocol/decoder.js';
import { type FieldTable, type FieldValue, TypedValue } from '../../src/protocol/field-value.js';
import { MethodId } from '../../src/protocol/generated/amqp-methods.js';
import { type BasicProperties, decodeBasicProperties } from '../../src/protocol/generated/basic-properties.js';
import { brokerChannel, connect, eventually } from '../support/broker.js';
import { txCommit, txSelect } from '../support/channel-methods.js';
import { restartableBroker } from '../support/data-dir.js';
import { readyCount } from '../support/messages.js';
import { RawClient } from '../support/raw-client.js';

// Dead-lettering as RabbitMQ 3.10 does it. The expected headers below were
// taken from a real RabbitMQ 3.10.8 running the same steps: field order and
// wire types included, since clients compare and re-publish them.

interface WireMessage {
  readonly exchange: string;
  readonly routingKey: string;
  readonly properties: BasicProperties;
}

/** The next message of `queue` (taken), its properties decoded from the wire with their type tags. */
async function getRaw(t: Test, broker: Broker, queue: string): Promise<WireMessage> {
  const raw = await RawClient.open(t, broker.port);
  await raw.openChannel(1);
  raw.method(1, { id: MethodId.BasicGet, queue, noAck: true });
  const ok = await raw.expectMethod(MethodId.BasicGetOk, 1);
  const header = await raw.nextFrame();
  raw.destroy();
  return { exchange: ok.exchange, routingKey: ok.routingKey, properties: decodeBasicProperties(new Decoder(header.payload.subarray(12))) };
}

const long = (n: number): TypedValue => new TypedValue('l', n);
const dlArgs = (exchange: string, routingKey?: string): Record<string, unknown> =>
  routingKey === undefined ? { 'x-dead-letter-exchange': exchange } : { 'x-dead-letter-exchange': exchange, 'x-dead-letter-routing-key': routingKey };

/** Takes the head of `queue` and rejects it without requeue. */
async function rejectHead(ch: amqp.Channel, queue: string): Promise<void> {
  const m = await ch.get(queue);
  if (m === false) throw new Error(`${queue} is empty`);
  ch.reject(m, false);
}

/** A death entry's fields, with `time` checked (whole seconds, about now) and left out. */
function withoutTime(t: Test, entry: FieldValue | undefined): FieldTable {
  const { time, ...rest } = entry as FieldTable;
  t.ok(time instanceof Date && time.getTime() % 1000 === 0 && Math.abs(time.getTime() - Date.now()) < 60_000, 'time: a timestamp in seconds');
  return rest;
}

t.test('a rejected message reaches the dead-letter exchange with x-death as RabbitMQ writes it', async (t) => {
  const { broker, channel: ch } = await brokerChannel(t);
  await ch.assertExchange('in', 'direct');
  await ch.assertExchange('dlx', 'direct');
  await ch.assertQueue('src', { arguments: dlArgs('dlx') });
  await ch.bindQueue('src', 'in', 'rk');
  for (const key of ['rk', 'cc1', 'bcc1']) {
    await ch.assertQueue(`dl-${key}`);
    await ch.bindQueue(`dl-${key}`, 'dlx', key);
  }
  ch.publish('in', 'rk', Buffer.from('A'), {
    headers: { zeta: 1, CC: ['cc1'], BCC: ['bcc1'], alpha: 'x' },
    expiration: '60000',
    contentType: 'text/plain',
    priority: 3,
  });
  await eventually(async () => (await readyCount(ch, 'src')) === 1, 2000, 'published');
  const m = await ch.get('src');
  t.ok(m);
  if (m !== false) ch.nack(m, false, false);
  // Without a dead-letter routing key it is routed by every key it was published with, BCC included.
  for (const key of ['rk', 'cc1', 'bcc1']) await eventually(async () => (await readyCount(ch, `dl-${key}`)) === 1, 2000, `dead-lettered to dl-${key}`);
  t.equal(await readyCount(ch, 'src'), 0, 'gone from its queue');

  const got = await getRaw(t, broker, 'dl-rk');
  t.equal(got.exchange, 'dlx', 'delivered from the dead-letter exchange');
  t.equal(got.routingKey, 'rk', 'with its own routing key');
  const { headers = {}, ...properties } = got.properties;
  t.same(properties, { contentType: 'text/plain', priority: 3 }, 'expiration removed, other properties kept');
  t.same(Object.keys(headers), ['CC', 'alpha', 'x-death', 'x-first-death-exchange', 'x-first-death-queue', 'x-first-death-reason', 'zeta'], 'headers sorted by name');
  t.same(headers['CC'], ['cc1']);
  t.same(headers['zeta'], new TypedValue('b', 1), 'user headers keep their wire type');
  t.same([headers['x-first-death-exchange'], headers['x-first-death-queue'], headers['x-first-death-reason']], ['in', 'src', 'rejected']);
  const deaths = headers['x-death'] as FieldValue[];
  t.equal(deaths.length, 1);
  t.same(Object.keys(deaths[0] as FieldTable), ['count', 'reason', 'queue', 'time', 'exchange', 'routing-keys', 'original-expiration'], 'first death: RabbitMQ order');
  t.same(withoutTime(t, deaths[0]), {
    count: long(1),
    reason: 'rejected',
    queue: 'src',
    exchange: 'in',
    'routing-keys': ['rk', 'cc1'],
    'original-expiration': '60000',
  }, 'count is a long; routing-keys has CC but not BCC');
});

t.test('x-dead-letter-routing-key replaces every key and drops CC', async (t) => {
  const { broker, channel: ch } = await brokerChannel(t);
  await ch.assertExchange('dlx', 'direct');
  await ch.assertQueue('src', { arguments: dlArgs('dlx', 'dlk') });
  for (const key of ['src', 'cc1', 'dlk']) {
    await ch.assertQueue(`dl-${key}`);
    await ch.bindQueue(`dl-${key}`, 'dlx', key);
  }
  ch.sendToQueue('src', Buffer.from('B'), { headers: { CC: ['cc1'] } });
  await rejectHead(ch, 'src');
  await eventually(async () => (await readyCount(ch, 'dl-dlk')) === 1, 2000, 'dead-lettered by its dead-letter routing key');
  t.same([await readyCount(ch, 'dl-src'), await readyCount(ch, 'dl-cc1')], [0, 0], 'not by its own keys');
  const got = await getRaw(t, broker, 'dl-dlk');
  t.equal(got.routingKey, 'dlk');
  const headers = got.properties.headers!;
  t.notOk('CC' in headers, 'CC removed');
  t.same((headers['x-death'] as FieldTable[])[0]!['routing-keys'], ['src', 'cc1'], 'x-death still names the keys it was published with');
});

t.test('dying again in the same queue for the same reason counts up; other deaths go first', async (t) => {
  const { broker, channel: ch } = await brokerChannel(t);
  // Rejected twice through a queue that dead-letters to itself: a cycle with a rejection in it goes on.
  await ch.assertQueue('loop', { arguments: dlArgs('', 'loop') });
  ch.sendToQueue('loop', Buffer.from('E'), { expiration: '50000' });
  await rejectHead(ch, 'loop');
  await eventually(async () => (await readyCount(ch, 'loop')) === 1, 2000, 'back after the first rejection');
  const first = await ch.get('loop');
  const firstTime = first === false ? 0 : (first.properties.headers?.['x-death'] as { time: { value: number } }[])[0]!.time.value;
  // A later second, so that a time taken anew would show.
  await new Promise((r) => setTimeout(r, 1100));
  if (first !== false) ch.reject(first, false);
  await eventually(async () => (await readyCount(ch, 'loop')) === 1, 2000, 'back after the second rejection');
  const second = (await getRaw(t, broker, 'loop')).properties.headers!;
  const deaths = second['x-death'] as FieldTable[];
  t.equal(deaths.length, 1, 'one entry per queue and reason');
  t.same(Object.keys(deaths[0]!), ['count', 'exchange', 'original-expiration', 'queue', 'reason', 'routing-keys', 'time'], 'a counted entry has its fields sorted');
  t.same(deaths[0]!['count'], long(2));
  t.equal((deaths[0]!['time'] as Date).getTime(), firstTime * 1000, 'the time of the first such death stays');

  // Expired in f1, rejected in f2, dropped for length in f3, rejected in f4.
  await ch.assertQueue('f1', { arguments: { 'x-message-ttl': 10, ...dlArgs('', 'f2') } });
  await ch.assertQueue('f2', { arguments: dlArgs('', 'f3') });
  await ch.assertQueue('f3', { arguments: { 'x-max-length': 0, ...dlArgs('', 'f4') } });
  await ch.assertQueue('f4', { arguments: dlArgs('', 'f5') });
  await ch.assertQueue('f5');
  ch.sendToQueue('f1', Buffer.from('F'));
  await eventually(async () => (await readyCount(ch, 'f2')) === 1, 2000, 'expired into f2');
  await rejectHead(ch, 'f2');
  await eventually(async () => (await readyCount(ch, 'f4')) === 1, 2000, 'through f3 into f4');
  await rejectHead(ch, 'f4');
  await eventually(async () => (await readyCount(ch, 'f5')) === 1, 2000, 'into f5');
  const headers = (await getRaw(t, broker, 'f5')).properties.headers!;
  const order = (headers['x-death'] as FieldTable[]).map((d) => `${String(d['queue'])}:${String(d['reason'])}`);
  // RabbitMQ regroups older entries by queue and reason with a fold that reverses them each time.
  t.same(order, ['f4:rejected', 'f2:rejected', 'f1:expired', 'f3:maxlen'], 'newest first, older ones as RabbitMQ leaves them');
  t.same([headers['x-first-death-queue'], headers['x-first-death-reason'], headers['x-first-death-exchange']], ['f1', 'expired', ''], 'the first death stays');
});

t.test('a cycle of expiries with no rejection in it drops the message instead of looping', async (t) => {
  const { channel: ch } = await brokerChannel(t);
  await ch.assertQueue('self', { arguments: { 'x-message-ttl': 10, ...dlArgs('', 'self') } });
  await ch.assertQueue('a', { arguments: { 'x-message-ttl': 10, ...dlArgs('', 'b') } });
  await ch.assertQueue('b', { arguments: { 'x-message-ttl': 10, ...dlArgs('', 'a') } });
  ch.sendToQueue('self', Buffer.from('1'));
  ch.sendToQueue('a', Buffer.from('2'));
  await eventually(async () => (await readyCount(ch, 'self')) + (await readyCount(ch, 'a')) + (await readyCount(ch, 'b')) === 0, 3000, 'both dropped');
  // Had they looped, they would show up again.
  await new Promise((r) => setTimeout(r, 200));
  t.same([await readyCount(ch, 'self'), await readyCount(ch, 'a'), await readyCount(ch, 'b')], [0, 0, 0]);
});

t.test('what is not dead-lettered: acks, requeues, a missing exchange', async (t) => {
  const { connection, channel: ch } = await brokerChannel(t);
  await ch.assertQueue('dlq');
  await ch.assertQueue('src', { arguments: dlArgs('', 'dlq') });
  await ch.assertQueue('nowhere', { arguments: dlArgs('missing') });
  for (const body of ['acked', 'requeued', 'closed']) ch.sendToQueue('src', Buffer.from(body));
  ch.sendToQueue('nowhere', Buffer.from('lost'));
  const acked = await ch.get('src');
  if (acked !== false) ch.ack(acked);
  const requeued = await ch.get('src');
  if (requeued !== false) ch.nack(requeued, false, true);
  const other = await connection.createChannel();
  await other.get('src', { noAck: false });
  await other.close();
  await rejectHead(ch, 'nowhere');
  await eventually(async () => (await readyCount(ch, 'src')) === 2, 2000, 'requeued and closed-channel messages back in src');
  t.equal(await readyCount(ch, 'dlq'), 0, 'nothing dead-lettered');
  t.equal(await readyCount(ch, 'nowhere'), 0, 'a message for a missing dead-letter exchange is dropped');
});

t.test('in a transaction, a rejection dead-letters at commit', async (t) => {
  const { connection, channel: ch } = await brokerChannel(t);
  await ch.assertQueue('dlq');
  await ch.assertQueue('src', { arguments: dlArgs('', 'dlq') });
  ch.sendToQueue('src', Buffer.from('x'));
  const tx = await connection.createChannel();
  await txSelect(tx);
  const m = await tx.get('src');
  if (m !== false) tx.reject(m, false);
  await readyCount(tx, 'src');
  t.equal(await readyCount(ch, 'dlq'), 0, 'not before the commit');
  await txCommit(tx);
  await eventually(async () => (await readyCount(ch, 'dlq')) === 1, 2000, 'dead-lettered by the commit');
});

t.test('a persistent message dead-lettered between durable queues survives a restart', async (t) => {
  const b = await restartableBroker(t);
  const ch = await (await connect(t, b.broker)).createChannel();
  await ch.assertQueue('dlq', { durable: true });
  await ch.assertQueue('src', { durable: true, arguments: dlArgs('', 'dlq') });
  ch.sendToQueue('src', Buffer.from('kept'), { persistent: true });
  await rejectHead(ch, 'src');
  await eventually(async () => (await readyCount(ch, 'dlq')) === 1, 2000, 'dead-lettered');
  await b.restart();
  const after = await (await connect(t, b.broker)).createChannel();
  t.equal(await readyCount(after, 'src'), 0, 'not back in its first queue');
  const got = await after.get('dlq', { noAck: true });
  t.equal(got !== false && got.content.toString(), 'kept');
  t.equal(got !== false && (got.properties.headers?.['x-death'] as { reason: string }[])[0]?.reason, 'rejected', 'with its x-death');
});
