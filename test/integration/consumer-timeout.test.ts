import type * as amqp from 'amqplib';
import t from 'tap';
import { parseCliOptions } from '../../src/cli/options.js';
import { brokerChannel, channelError, collect, connect, delay, eventually, roundTrip, withBroker, within } from '../support/broker.js';
import { bodies } from '../support/messages.js';

// RabbitMQ's consumer_timeout, compared with a RabbitMQ 3.10.8 run with
// consumer_timeout = 500 (and channel_tick_interval = 100 so that it looks
// often enough to close within the test): same close, same text, same requeue.

const TIMEOUT = 500;
const timedOut = (channel: number): string =>
  `PRECONDITION_FAILED - delivery acknowledgement on channel ${channel} timed out. Timeout value used: ${TIMEOUT} ms. ` +
  'This timeout value can be configured, see consumers doc guide to learn more';

/** Resolves with the error the channel is closed with, or 'open' if it still is after `ms`. */
function closedWithin(channel: amqp.Channel, ms: number): Promise<(Error & { code?: number }) | 'open'> {
  return Promise.race([channelError(channel), delay(ms).then(() => 'open' as const)]);
}

t.test('a consumer that does not ack in time loses its channel, and the message goes back', async (t) => {
  const broker = await withBroker(t, { consumerTimeout: TIMEOUT });
  const connection = await connect(t, broker);
  const admin = await connection.createChannel();
  await admin.assertQueue('work');
  const slow = await connection.createChannel();
  const closed = channelError(slow);
  await slow.consume('work', () => {});
  admin.sendToQueue('work', Buffer.from('job'));
  const err = await within(closed, 5000, 'the channel close');
  t.equal(err.code, 406);
  t.match(err.message, timedOut(2));
  t.equal(err.classId, 0, 'the close names no method');
  t.equal(err.methodId, 0);
  const [again] = await collect(admin, 'work', 1, { noAck: true });
  t.equal(again?.content.toString(), 'job');
  t.equal(again?.fields.redelivered, true, 'requeued, marked redelivered');
  t.equal(await roundTrip(connection), 'ping', 'the connection goes on');
});

t.test('a basic.get with manual ack times out too', async (t) => {
  const { broker, channel } = await brokerChannel(t, { consumerTimeout: TIMEOUT });
  await channel.assertQueue('work');
  channel.sendToQueue('work', Buffer.from('job'));
  const closed = channelError(channel);
  t.ok(await channel.get('work', { noAck: false }));
  t.match((await within(closed, 5000, 'the channel close')).message, timedOut(1));
  const connection = await connect(t, broker);
  const ch = await connection.createChannel();
  t.equal((await ch.checkQueue('work')).messageCount, 1, 'the message is back');
});

t.test('consumers that ack in time, and no-ack consumers, are left alone', async (t) => {
  const { channel: admin, connection } = await brokerChannel(t, { consumerTimeout: TIMEOUT });
  await admin.assertQueue('acked');
  await admin.assertQueue('auto');
  const acking = await connection.createChannel();
  await acking.prefetch(1);
  await acking.consume('acked', (m) => m !== null && setTimeout(() => acking.ack(m), TIMEOUT / 2));
  const noAck = await connection.createChannel();
  await noAck.consume('auto', () => {}, { noAck: true });
  for (let i = 0; i < 8; i++) admin.sendToQueue('acked', Buffer.from(String(i)));
  admin.sendToQueue('auto', Buffer.from('x'));
  // Eight deliveries of TIMEOUT / 2 each: the channel holds an unacked message for 4 timeouts in all, never one for long.
  const [acked, auto] = await Promise.all([closedWithin(acking, TIMEOUT * 5), closedWithin(noAck, TIMEOUT * 5)]);
  t.equal(acked, 'open');
  t.equal(auto, 'open');
  t.equal((await admin.checkQueue('acked')).messageCount, 0, 'every message was delivered and acked');
});

t.test('a timeout of 0 turns it off', async (t) => {
  const { channel } = await brokerChannel(t, { consumerTimeout: 0 });
  await channel.assertQueue('work');
  channel.sendToQueue('work', Buffer.from('job'));
  t.ok(await channel.get('work', { noAck: false }));
  t.equal(await closedWithin(channel, TIMEOUT * 3), 'open');
});

t.test('only the channel holding the late delivery closes; its unacked messages go back in order', async (t) => {
  const { channel: admin, connection } = await brokerChannel(t, { consumerTimeout: TIMEOUT });
  await admin.assertQueue('work');
  const stuck = await connection.createChannel();
  const busy = await connection.createChannel();
  for (let i = 1; i <= 3; i++) admin.sendToQueue('work', Buffer.from(String(i)));
  await admin.checkQueue('work');
  const closed = channelError(stuck);
  for (let i = 0; i < 3; i++) t.ok(await stuck.get('work', { noAck: false }));
  const received: amqp.ConsumeMessage[] = [];
  await busy.consume('work', (m) => m !== null && (received.push(m), busy.ack(m)));
  await within(closed, 5000, 'the stuck channel closes');
  await eventually(() => received.length === 3, 5000, 'the requeued messages reach the other consumer');
  t.same(bodies(received), ['1r', '2r', '3r']);
  t.equal(await closedWithin(busy, TIMEOUT * 2), 'open', 'the channel that acks stays open');
});

t.test('a quorum queue counts a timed-out delivery as returned', async (t) => {
  const { broker, channel } = await brokerChannel(t, { consumerTimeout: TIMEOUT });
  await channel.assertQueue('qq', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  const closed = channelError(channel);
  await channel.consume('qq', () => {});
  channel.sendToQueue('qq', Buffer.from('job'));
  await within(closed, 5000, 'the channel close');
  const ch = await (await connect(t, broker)).createChannel();
  const m = await ch.get('qq', { noAck: true });
  t.same(m && { redelivered: m.fields.redelivered, headers: m.properties.headers }, { redelivered: true, headers: { 'x-delivery-count': 1 } });
});

t.test('--consumer-timeout and AMQP_BROKER_CONSUMER_TIMEOUT set it; 0 or off turn it off', async (t) => {
  t.equal(parseCliOptions([], {}).consumerTimeout, 1_800_000, "RabbitMQ's default: 30 minutes");
  t.equal(parseCliOptions(['--consumer-timeout', '500'], {}).consumerTimeout, 500);
  t.equal(parseCliOptions([], { AMQP_BROKER_CONSUMER_TIMEOUT: '60000' }).consumerTimeout, 60000);
  t.equal(parseCliOptions(['--consumer-timeout', 'off'], { AMQP_BROKER_CONSUMER_TIMEOUT: '60000' }).consumerTimeout, 0);
  t.equal(parseCliOptions([], { AMQP_BROKER_CONSUMER_TIMEOUT: '0' }).consumerTimeout, 0);
  for (const bad of ['--consumer-timeout=-1', '--consumer-timeout=1.5', '--consumer-timeout=soon', '--consumer-timeout=']) t.throws(() => parseCliOptions([bad], {}), /invalid consumer timeout/);
  // The embedded default is RabbitMQ's too: nothing closes a channel that waits a little.
  const broker = await withBroker(t);
  t.equal(broker.config.consumerTimeout, 1_800_000);
});
