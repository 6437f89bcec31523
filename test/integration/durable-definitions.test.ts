import type * as amqp from 'amqplib';
import t, { type Test } from 'tap';
import { connect, exchangeExists, openChannel, queueExists } from '../support/broker.js';
import { type RestartableBroker, restartableBroker } from '../support/data-dir.js';

// What a restart of a broker on the same data directory keeps, and what it forgets.

/** A confirm channel on the current broker. */
async function confirmChannel(t: Test, b: RestartableBroker): Promise<{ connection: amqp.ChannelModel; channel: amqp.ConfirmChannel }> {
  const connection = await connect(t, b.broker);
  const channel = await connection.createConfirmChannel();
  return { connection, channel };
}

/** Every message in the queue, taken with basic.get and acked. */
async function drain(channel: amqp.Channel, queue: string): Promise<amqp.GetMessage[]> {
  const got: amqp.GetMessage[] = [];
  for (;;) {
    const m = await channel.get(queue);
    if (m === false) return got;
    channel.ack(m);
    got.push(m);
  }
}

const bodies = (ms: readonly amqp.Message[]): string[] => ms.map((m) => m.content.toString());

/** Headers-exchange binding arguments of every field type amqplib can send. */
const TYPED_ARGS = {
  'x-match': 'all',
  str: 'text',
  byte: { '!': 'int8', value: -5 },
  short: { '!': 'int16', value: 1000 },
  int: { '!': 'int32', value: 100000 },
  long: { '!': 'int64', value: 2 ** 40 },
  float: { '!': 'float', value: 1.5 },
  double: 2.25,
  bool: true,
  stamp: { '!': 'timestamp', value: 1700000000 },
  table: { nested: 'yes', n: 7 },
  list: ['a', 1, false],
  bytes: Buffer.from([1, 2, 3]),
};
const MATCHING_HEADERS = Object.fromEntries(Object.entries(TYPED_ARGS).filter(([k]) => k !== 'x-match'));

/** Whether a mandatory publish is routed (true) or returned (false). */
async function routed(channel: amqp.ConfirmChannel, exchange: string, key: string, headers: Record<string, unknown> = {}): Promise<boolean> {
  let returned = false;
  const onReturn = (): void => {
    returned = true;
  };
  channel.on('return', onReturn);
  channel.publish(exchange, key, Buffer.from('probe'), { mandatory: true, headers });
  await channel.waitForConfirms();
  channel.off('return', onReturn);
  return !returned;
}

async function inequivalentText(connection: amqp.ChannelModel, queue: string, args: Record<string, unknown>): Promise<string> {
  const ch = await openChannel(connection);
  const err = await ch.assertQueue(queue, { durable: true, arguments: args }).then(
    () => new Error('accepted'),
    (e: Error) => e,
  );
  return err.message;
}

t.test('durable exchanges, queues and bindings come back with their arguments; transient and exclusive ones do not', async (t) => {
  const b = await restartableBroker(t);
  const queueArgs = { 'x-max-length': 1000, 'x-dead-letter-exchange': 'dlx', 'x-custom': { deep: [1, 'two'] } };
  const before = await confirmChannel(t, b);
  const ch = before.channel;
  await ch.assertExchange('dx', 'topic', { durable: true, arguments: { 'alternate-exchange': 'ae' } });
  await ch.assertExchange('ae', 'fanout', { durable: true });
  await ch.assertExchange('dx2', 'direct', { durable: true });
  await ch.assertExchange('hx', 'headers', { durable: true });
  await ch.assertQueue('dq', { durable: true, arguments: queueArgs });
  await ch.assertQueue('dq2', { durable: true });
  await ch.assertQueue('ae-q', { durable: true });
  await ch.assertQueue('hq', { durable: true });
  const { queue: serverNamed } = await ch.assertQueue('', { durable: true, exclusive: false });
  await ch.bindQueue('dq', 'dx', 'a.#');
  await ch.bindExchange('dx2', 'dx', 'b.*');
  await ch.bindQueue('dq2', 'dx2', 'b.x');
  await ch.bindQueue('ae-q', 'ae', '');
  await ch.bindQueue('hq', 'hx', '', TYPED_ARGS);
  await ch.assertExchange('tx', 'fanout', { durable: false });
  await ch.assertQueue('tq', { durable: false });
  await ch.assertQueue('xq', { durable: true, exclusive: true });
  await ch.bindQueue('tq', 'dx', 'a.#');
  const refusal = await inequivalentText(before.connection, 'dq', { ...queueArgs, 'x-max-length': 5 });
  t.match(refusal, /inequivalent arg 'x-max-length'/);

  await b.restart();
  const { connection, channel } = await confirmChannel(t, b);
  for (const x of ['dx', 'ae', 'dx2', 'hx', 'amq.direct', 'amq.fanout', 'amq.topic', 'amq.headers', 'amq.match']) t.ok(await exchangeExists(connection, x), `exchange ${x} is back`);
  for (const q of ['dq', 'dq2', 'ae-q', 'hq', serverNamed]) t.ok(await queueExists(connection, q), `queue ${q} is back`);
  t.notOk(await exchangeExists(connection, 'tx'), 'the transient exchange is gone');
  t.notOk(await queueExists(connection, 'tq'), 'the transient queue is gone');
  t.notOk(await queueExists(connection, 'xq'), 'the exclusive durable queue is gone');

  t.equal(await inequivalentText(connection, 'dq', { ...queueArgs, 'x-max-length': 5 }), refusal, 'queue arguments came back with their values and types');
  await channel.assertQueue('dq', { durable: true, arguments: queueArgs });
  await channel.assertExchange('dx', 'topic', { durable: true, arguments: { 'alternate-exchange': 'ae' } });

  t.ok(await routed(channel, 'dx', 'a.1'), 'queue binding');
  t.ok(await routed(channel, 'dx', 'b.x'), 'exchange-to-exchange binding');
  t.ok(await routed(channel, 'dx', 'zzz'), 'the alternate exchange argument');
  t.ok(await routed(channel, 'hx', '', MATCHING_HEADERS), 'headers binding with arguments of every type');
  t.notOk(await routed(channel, 'hx', '', { ...MATCHING_HEADERS, short: 999 }), 'and it still compares them');
  t.same(bodies(await drain(channel, 'dq')), ['probe']);
  t.same(bodies(await drain(channel, 'dq2')), ['probe']);
  t.same(bodies(await drain(channel, 'ae-q')), ['probe']);
  await channel.unbindQueue('hq', 'hx', '', TYPED_ARGS);
  t.notOk(await routed(channel, 'hx', '', MATCHING_HEADERS), 'unbinding with the same typed arguments finds the restored binding');
});

t.test('deletions and unbindings of durable entities are remembered', async (t) => {
  const b = await restartableBroker(t);
  const { channel: ch } = await confirmChannel(t, b);
  await ch.assertExchange('dx', 'direct', { durable: true });
  await ch.assertExchange('gone-x', 'direct', { durable: true });
  await ch.assertExchange('dest-x', 'fanout', { durable: true });
  await ch.assertQueue('dq', { durable: true });
  await ch.assertQueue('gone-q', { durable: true });
  await ch.assertQueue('dest-q', { durable: true });
  await ch.bindQueue('dq', 'dx', 'keep');
  await ch.bindQueue('dq', 'dx', 'drop');
  await ch.bindExchange('dest-x', 'dx', 'e2e');
  await ch.bindQueue('dest-q', 'dest-x', '');
  await b.restart();
  const first = await confirmChannel(t, b);
  await first.channel.deleteExchange('gone-x');
  await first.channel.deleteQueue('gone-q');
  await first.channel.unbindQueue('dq', 'dx', 'drop');
  await first.channel.unbindExchange('dest-x', 'dx', 'e2e');

  await b.restart();
  const { connection, channel } = await confirmChannel(t, b);
  t.notOk(await exchangeExists(connection, 'gone-x'));
  t.notOk(await queueExists(connection, 'gone-q'));
  t.ok(await routed(channel, 'dx', 'keep'));
  t.notOk(await routed(channel, 'dx', 'drop'), 'the queue unbinding is remembered');
  t.notOk(await routed(channel, 'dx', 'e2e'), 'the exchange unbinding is remembered');
});

t.test('a durable auto-delete exchange keeps its bindings across a restart and still goes with the last one', async (t) => {
  const b = await restartableBroker(t);
  const { channel: ch } = await confirmChannel(t, b);
  await ch.assertExchange('adx', 'direct', { durable: true, autoDelete: true });
  await ch.assertQueue('adq', { durable: true });
  await ch.bindQueue('adq', 'adx', 'k');
  await b.restart();
  const { connection, channel } = await confirmChannel(t, b);
  t.ok(await exchangeExists(connection, 'adx'));
  t.ok(await routed(channel, 'adx', 'k'));
  await channel.unbindQueue('adq', 'adx', 'k');
  t.notOk(await exchangeExists(connection, 'adx'), 'deleted with its last binding');
  await b.restart();
  t.notOk(await exchangeExists(await connect(t, b.broker), 'adx'), 'and that is remembered');
});

t.test('persistent messages in durable queues survive a restart with their properties; transient ones do not', async (t) => {
  const b = await restartableBroker(t);
  const { channel: ch } = await confirmChannel(t, b);
  await ch.assertQueue('pq', { durable: true });
  await ch.assertQueue('tq', { durable: false });
  const props = { contentType: 'text/plain', correlationId: 'c-1', messageId: 'm-1', priority: 3, timestamp: 1700000000, appId: 'tests', headers: { n: 1, s: 'x', l: [true, 2.5] } };
  ch.sendToQueue('pq', Buffer.from('p1'), { persistent: true, ...props });
  ch.sendToQueue('pq', Buffer.from('t1'), { persistent: false });
  ch.sendToQueue('pq', Buffer.from('p2'), { deliveryMode: 2 });
  ch.sendToQueue('pq', Buffer.alloc(300_000, 7), { persistent: true });
  ch.sendToQueue('tq', Buffer.from('in a transient queue'), { persistent: true });
  await ch.waitForConfirms();

  await b.restart();
  const { connection, channel } = await confirmChannel(t, b);
  const got = await drain(channel, 'pq');
  t.same(bodies(got.slice(0, 2)), ['p1', 'p2'], 'the persistent messages, in order; the transient one is gone');
  t.equal(got.length, 3);
  t.ok(got[2]!.content.equals(Buffer.alloc(300_000, 7)), 'a large body intact');
  t.match(got[0]!.properties, { ...props, deliveryMode: 2 }, 'properties as published');
  t.equal(got[0]!.fields.redelivered, false);
  t.notOk(await queueExists(connection, 'tq'));
});

t.test('delivered but unacked messages come back redelivered, undelivered ones not, acked ones never', async (t) => {
  const b = await restartableBroker(t);
  const { channel: ch } = await confirmChannel(t, b);
  await ch.assertQueue('rq', { durable: true });
  for (const body of ['acked', 'got', 'consumed', 'waiting']) ch.sendToQueue('rq', Buffer.from(body), { persistent: true });
  await ch.waitForConfirms();
  const acked = await ch.get('rq');
  ch.ack(acked as amqp.GetMessage);
  t.ok(await ch.get('rq'), 'taken with basic.get, not acked');
  await ch.prefetch(1);
  const consumed = new Promise<void>((resolve) => void ch.consume('rq', () => resolve()));
  await consumed;
  await ch.checkQueue('rq'); // the ack above has reached the broker
  await b.restart();
  const { channel } = await confirmChannel(t, b);
  const got = await drain(channel, 'rq');
  t.same(
    got.map((m) => [m.content.toString(), m.fields.redelivered]),
    [
      ['got', true],
      ['consumed', true],
      ['waiting', false],
    ],
  );
});

t.test('purge and queue delete are remembered; a queue declared again under the old name starts empty', async (t) => {
  const b = await restartableBroker(t);
  const { channel: ch } = await confirmChannel(t, b);
  await ch.assertQueue('purged', { durable: true });
  await ch.assertQueue('deleted', { durable: true });
  for (let i = 0; i < 3; i++) {
    ch.sendToQueue('purged', Buffer.from(`p${i}`), { persistent: true });
    ch.sendToQueue('deleted', Buffer.from(`d${i}`), { persistent: true });
  }
  await ch.waitForConfirms();
  t.equal((await ch.purgeQueue('purged')).messageCount, 3);
  await ch.deleteQueue('deleted');
  await b.restart();
  const { channel } = await confirmChannel(t, b);
  t.equal((await channel.checkQueue('purged')).messageCount, 0);
  t.equal((await channel.assertQueue('deleted', { durable: true })).messageCount, 0);
  await b.restart();
  const again = await confirmChannel(t, b);
  t.equal((await again.channel.checkQueue('deleted')).messageCount, 0, 'its old messages stay gone');
});

t.test('a message routed to two durable queues survives in both; acking it in one keeps it in the other', async (t) => {
  const b = await restartableBroker(t);
  const { channel: ch } = await confirmChannel(t, b);
  await ch.assertExchange('fx', 'fanout', { durable: true });
  for (const q of ['qa', 'qb']) {
    await ch.assertQueue(q, { durable: true });
    await ch.bindQueue(q, 'fx', '');
  }
  ch.publish('fx', '', Buffer.from('shared'), { persistent: true });
  await ch.waitForConfirms();
  await b.restart();
  const first = await confirmChannel(t, b);
  t.same(bodies(await drain(first.channel, 'qa')), ['shared']);
  await first.channel.checkQueue('qa');
  await b.restart();
  const { channel } = await confirmChannel(t, b);
  t.equal((await channel.checkQueue('qa')).messageCount, 0, 'acked in qa');
  t.same(bodies(await drain(channel, 'qb')), ['shared'], 'still in qb');
});
