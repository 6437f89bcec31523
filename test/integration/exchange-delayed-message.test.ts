import type * as amqp from 'amqplib';
import t, { type Test } from 'tap';
import { type Broker, startBroker } from '../../src/index.js';
import { assertChannelRefusal, connect, connectionClosed, delay, eventually, openChannel, within } from '../support/broker.js';
import { txCommit, txRollback, txSelect } from '../support/channel-methods.js';
import { CrashFs } from '../support/crash-fs.js';
import { tempDataDir } from '../support/data-dir.js';
import { routingChannel, tempQueue } from '../support/routing.js';

/**
 * The x-delayed-message exchange (RabbitMQ's delayed-message plugin): a
 * message with an x-delay header of N ms is held N ms, then routed as the
 * exchange's x-delayed-type routes. Delays here are short; what is asserted
 * is order and "not before", never how fast.
 */

interface Arrival {
  readonly body: string;
  /** ms since the test's clock started. */
  readonly at: number;
  readonly message: amqp.ConsumeMessage;
}

/** Records every message a queue delivers, with when it arrived. */
async function arrivals(channel: amqp.Channel, queue: string, since: number): Promise<Arrival[]> {
  const got: Arrival[] = [];
  await channel.consume(queue, (m) => m !== null && got.push({ body: m.content.toString(), at: Date.now() - since, message: m }), { noAck: true });
  return got;
}

const waitFor = (got: readonly Arrival[], n: number, what: string): Promise<void> => eventually(() => got.length >= n, 5000, what);

async function delayedScene(channel: amqp.Channel, routedAs: string, durable = false): Promise<{ exchange: string; queue: string }> {
  const exchange = `dx-${routedAs}`;
  await channel.assertExchange(exchange, 'x-delayed-message', { durable, arguments: { 'x-delayed-type': routedAs } });
  const queue = await tempQueue(channel);
  return { exchange, queue };
}

t.test('held for its x-delay, then routed as x-delayed-type says, with x-delay made negative', async (t) => {
  const { channel } = await routingChannel(t);
  const { exchange, queue } = await delayedScene(channel, 'topic');
  await channel.bindQueue(queue, exchange, 'orders.*');
  const start = Date.now();
  const got = await arrivals(channel, queue, start);
  channel.publish(exchange, 'orders.eu', Buffer.from('late'), { headers: { 'x-delay': 300, other: 'kept' } });
  channel.publish(exchange, 'invoices.eu', Buffer.from('not bound'), { headers: { 'x-delay': 100 } });
  await channel.waitForConfirms();
  await delay(100);
  t.same(got, [], 'nothing at 100 ms');
  await waitFor(got, 1, 'the delayed message');
  t.ok(got[0]!.at >= 295, `not before its delay (arrived at ${got[0]!.at} ms)`);
  t.same(got[0]!.message.properties.headers, { 'x-delay': -300, other: 'kept' });
  t.equal(got[0]!.message.fields.exchange, exchange);
  t.equal(got[0]!.message.fields.routingKey, 'orders.eu');
  await delay(100);
  t.equal(got.length, 1, 'the topic binding did not match the other key');
});

t.test('shorter delays overtake longer ones; no, zero or negative delay routes at once', async (t) => {
  const { channel } = await routingChannel(t);
  const { exchange, queue } = await delayedScene(channel, 'direct');
  await channel.bindQueue(queue, exchange, 'k');
  const got = await arrivals(channel, queue, Date.now());
  const publish = (body: string, xDelay?: unknown): boolean =>
    channel.publish(exchange, 'k', Buffer.from(body), xDelay === undefined ? {} : { headers: { 'x-delay': xDelay } });
  publish('300', 300);
  publish('150 as string', '150');
  publish('100', 100);
  publish('none');
  publish('zero', 0);
  publish('negative', -50);
  publish('not a number', 'soon');
  await waitFor(got, 4, 'the messages routed at once');
  t.same(got.slice(0, 4).map((a) => a.body).sort(), ['negative', 'none', 'not a number', 'zero']);
  await waitFor(got, 7, 'the delayed ones');
  t.same(got.slice(4).map((a) => a.body), ['100', '150 as string', '300'], 'by due time');
});

t.test('confirms come when the exchange takes a message; mandatory is checked when it is routed', async (t) => {
  const { channel } = await routingChannel(t);
  const { exchange, queue } = await delayedScene(channel, 'direct');
  await channel.bindQueue(queue, exchange, 'bound');
  const start = Date.now();
  const got = await arrivals(channel, queue, start);
  const returns: { at: number; message: amqp.Message }[] = [];
  channel.on('return', (message: amqp.Message) => returns.push({ at: Date.now() - start, message }));
  channel.publish(exchange, 'bound', Buffer.from('taken'), { headers: { 'x-delay': 200 }, mandatory: true });
  channel.publish(exchange, 'unbound', Buffer.from('returned'), { headers: { 'x-delay': 200 }, mandatory: true });
  await channel.waitForConfirms();
  t.same(got, [], 'confirmed before anything was routed');
  t.same(returns, [], 'no return while the message waits');
  await eventually(() => returns.length === 1 && got.length === 1, 5000, 'routing');
  const { at, message } = returns[0]!;
  const fields = message.fields as amqp.MessageFields & { replyCode?: number; replyText?: string };
  t.ok(at >= 195, `returned when due (${at} ms)`);
  t.same([fields.replyCode, fields.replyText, fields.routingKey, message.content.toString()], [312, 'NO_ROUTE', 'unbound', 'returned']);
  t.same(message.properties.headers, { 'x-delay': -200 });
});

t.test('exchangeStats counts the messages waiting; deleting the exchange drops them', async (t) => {
  const broker = await startBroker({ logLevel: 'silent' });
  t.teardown(() => broker.close());
  const channel = await (await connect(t, broker)).createConfirmChannel();
  const { exchange, queue } = await delayedScene(channel, 'fanout');
  await channel.bindQueue(queue, exchange, '');
  const got = await arrivals(channel, queue, Date.now());
  for (const ms of [150, 200, 100_000]) channel.publish(exchange, '', Buffer.from(String(ms)), { headers: { 'x-delay': ms } });
  channel.publish(exchange, '', Buffer.from('now'));
  await channel.waitForConfirms();
  t.match(broker.exchangeStats('/', exchange), { type: 'x-delayed-message', bindings: 1, messagesDelayed: 3 });
  await waitFor(got, 3, 'the two short delays');
  t.equal(broker.exchangeStats('/', exchange)?.messagesDelayed, 1);
  t.equal(broker.exchangeStats('/', 'amq.direct')?.messagesDelayed, undefined, 'other types have no delayed count');
  await channel.deleteExchange(exchange);
  t.equal(broker.exchangeStats('/', exchange), undefined);
});

t.test('in a transaction the message starts waiting at commit; rollback drops it', async (t) => {
  const { connection } = await routingChannel(t);
  const channel = await connection.createChannel();
  const { exchange, queue } = await delayedScene(channel, 'direct');
  await channel.bindQueue(queue, exchange, 'k');
  const got = await arrivals(channel, queue, Date.now());
  await txSelect(channel);
  channel.publish(exchange, 'k', Buffer.from('rolled back'), { headers: { 'x-delay': 50 } });
  await txRollback(channel);
  channel.publish(exchange, 'k', Buffer.from('committed'), { headers: { 'x-delay': 50 } });
  await delay(150);
  t.same(got, [], 'nothing before the commit');
  await txCommit(channel);
  await waitFor(got, 1, 'the committed message');
  await delay(100);
  t.same(got.map((a) => a.body), ['committed']);
});

t.test('refuses a declaration without a usable x-delayed-type, as the plugin does', async (t) => {
  const { connection } = await routingChannel(t);
  const declare = async (args: Record<string, unknown>): Promise<unknown> => (await openChannel(connection)).assertExchange('dx-bad', 'x-delayed-message', { arguments: args });
  const text = "PRECONDITION_FAILED - Invalid argument, 'x-delayed-type' must be an existing exchange type";
  await assertChannelRefusal(t, connection, declare({}), 406, text);
  await assertChannelRefusal(t, connection, declare({ 'x-delayed-type': 5 }), 406, text);
  await assertChannelRefusal(t, connection, declare({ 'x-delayed-type': 'x-delayed-message' }), 406, text);
  // The type it routes as checks the arguments too.
  await assertChannelRefusal(
    t,
    connection,
    declare({ 'x-delayed-type': 'x-consistent-hash', 'hash-property': 'user_id' }),
    406,
    'PRECONDITION_FAILED - Unsupported property: user_id',
  );
  // A type name nobody knows is what the plugin's check_type makes of it: a connection error.
  const closed = connectionClosed(connection);
  await declare({ 'x-delayed-type': 'nosuch' }).catch(() => {});
  t.match((await within(closed, 5000, 'connection close'))?.message, /503.*unknown exchange type 'nosuch'/);
});

/** A broker on `dataDir`, with one connection whose channel is confirm-mode. */
async function open(t: Test, dataDir: string): Promise<{ broker: Broker; channel: amqp.ConfirmChannel }> {
  const broker = await startBroker({ logLevel: 'silent', dataDir });
  t.teardown(() => broker.close());
  const channel = await (await connect(t, broker)).createConfirmChannel();
  return { broker, channel };
}

t.test('persistent messages held by a durable delayed exchange survive a restart', async (t) => {
  const dataDir = tempDataDir(t);
  const first = await open(t, dataDir);
  await first.channel.assertExchange('dx-durable', 'x-delayed-message', { durable: true, arguments: { 'x-delayed-type': 'direct' } });
  await first.channel.assertQueue('dq-durable', { durable: true });
  await first.channel.bindQueue('dq-durable', 'dx-durable', 'k');
  const publish = (body: string, ms: number, persistent: boolean): boolean =>
    first.channel.publish('dx-durable', 'k', Buffer.from(body), { headers: { 'x-delay': ms }, persistent });
  publish('due during the downtime', 150, true);
  publish('transient', 150, false);
  publish('due after the restart', 1200, true);
  await first.channel.waitForConfirms();
  t.equal(first.broker.exchangeStats('/', 'dx-durable')?.messagesDelayed, 3);
  await first.broker.close();
  await delay(300);

  const second = await open(t, dataDir);
  const start = Date.now();
  const got = await arrivals(second.channel, 'dq-durable', start);
  await waitFor(got, 1, 'the message that fell due while the broker was down');
  t.equal(got[0]!.body, 'due during the downtime');
  t.same(got[0]!.message.properties.headers, { 'x-delay': -150 });
  t.equal(second.broker.exchangeStats('/', 'dx-durable')?.messagesDelayed, 1, 'the other still waits');
  await waitFor(got, 2, 'the message due after the restart');
  t.same(got.map((a) => a.body), ['due during the downtime', 'due after the restart'], 'the transient message is gone, as a transient one is');
  t.equal(got[1]!.message.properties.deliveryMode, 2);
  await second.channel.close();
  await second.broker.close();

  // Routed means gone from the exchange's journal: a third start holds nothing and delivers nothing again.
  const third = await open(t, dataDir);
  t.equal(third.broker.exchangeStats('/', 'dx-durable')?.messagesDelayed, 0);
  t.equal((await third.channel.checkQueue('dq-durable')).messageCount, 0, 'consumed before the restart, not delivered twice');
});

t.test('the confirm of a persistent message to a durable delayed exchange waits for the disk', async (t) => {
  // A disk slower than the network: a confirm sent before the sync would arrive first, and the power cut lose the message.
  const disk = new CrashFs();
  disk.syncDelayMs = 200;
  const dataDir = tempDataDir(t);
  const boot = (): Promise<Broker> => startBroker({ logLevel: 'silent', dataDir, storeFs: disk.mount() });
  const broker = await boot();
  const channel = await (await connect(t, broker)).createConfirmChannel();
  await channel.assertExchange('dx-confirm', 'x-delayed-message', { durable: true, arguments: { 'x-delayed-type': 'fanout' } });
  channel.publish('dx-confirm', '', Buffer.from('kept'), { headers: { 'x-delay': 60_000 }, persistent: true });
  await channel.waitForConfirms();
  disk.crash(false);
  await within(broker.close(), 10_000, 'the broker on the dead disk closes');
  const again = await boot();
  t.teardown(() => again.close());
  t.equal(again.exchangeStats('/', 'dx-confirm')?.messagesDelayed, 1, 'the confirmed message was on disk');
});
