import t, { type Test } from 'tap';
import type { Socket } from 'node:net';
import * as amqp from 'amqplib';
import { brokerChannel, channelError, collect, connect, eventually, withBroker, within } from '../support/broker.js';
import { bodies, drain, publishNumbered, readyCount } from '../support/messages.js';

/** A broker, a queue holding messages "1".."n", and `taken` of them fetched with basic.get awaiting ack. */
async function withUnacked(t: Test, n: number, taken: number) {
  const { broker, connection, channel } = await brokerChannel(t);
  const { queue } = await channel.assertQueue('acks', { autoDelete: false });
  await publishNumbered(channel, queue, 1, n);
  const unacked: amqp.GetMessage[] = [];
  for (let i = 0; i < taken; i++) {
    const m = await channel.get(queue, { noAck: false });
    if (m === false) throw new Error('queue ran dry');
    unacked.push(m);
  }
  return { broker, connection, channel, queue, unacked };
}

/** What the queue holds once the channel is closed (its unacked messages go back), read on a new channel. */
async function afterClose(connection: amqp.ChannelModel, channel: amqp.Channel, queue: string): Promise<string[]> {
  await channel.close();
  return bodies(await drain(await connection.createChannel(), queue));
}

t.test('acked messages are gone for good', async (t) => {
  const { connection, channel, queue, unacked } = await withUnacked(t, 3, 3);
  for (const m of unacked) channel.ack(m);
  t.same(await afterClose(connection, channel, queue), []);
});

t.test('ack multiple settles every delivery up to the tag', async (t) => {
  const { connection, channel, queue, unacked } = await withUnacked(t, 5, 5);
  channel.ack(unacked[2]!, true);
  t.same(await afterClose(connection, channel, queue), ['4r', '5r']);
});

t.test('ack multiple with delivery tag 0 settles everything outstanding', async (t) => {
  const { connection, channel, queue } = await withUnacked(t, 4, 3);
  channel.ackAll();
  t.same(await afterClose(connection, channel, queue), ['4']);
});

t.test('nack and reject without requeue drop the message', async (t) => {
  const { connection, channel, queue, unacked } = await withUnacked(t, 3, 2);
  channel.nack(unacked[0]!, false, false);
  channel.reject(unacked[1]!, false);
  t.same(await afterClose(connection, channel, queue), ['3']);
});

t.test('a requeued message comes back redelivered, ahead of the messages published after it', async (t) => {
  const { channel, queue, unacked } = await withUnacked(t, 5, 3);
  channel.reject(unacked[1]!, true);
  await publishNumbered(channel, queue, 6, 6);
  t.same(bodies(await drain(channel, queue)), ['2r', '4', '5', '6']);
  channel.ack(unacked[0]!);
  channel.ack(unacked[2]!);
});

t.test('messages requeued in any order go back to their original places', async (t) => {
  const { channel } = await brokerChannel(t);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await publishNumbered(channel, queue, 1, 5);
  const consumed = await collect(channel, queue, 5, { noAck: false });
  await channel.cancel(consumed[0]!.fields.consumerTag);
  channel.nack(consumed[3]!, false, true);
  channel.nack(consumed[1]!, false, true);
  await publishNumbered(channel, queue, 6, 6);
  t.same(bodies(await drain(channel, queue)), ['2r', '4r', '6']);
});

t.test('nack multiple with requeue puts back every delivery up to the tag, in order', async (t) => {
  const { channel, queue, unacked } = await withUnacked(t, 5, 4);
  channel.nack(unacked[2]!, true, true);
  t.same(bodies(await drain(channel, queue)), ['1r', '2r', '3r', '5']);
  channel.ack(unacked[3]!);
});

t.test('nackAll requeues every outstanding delivery', async (t) => {
  const { channel, queue } = await withUnacked(t, 3, 3);
  channel.nackAll(true);
  t.same(bodies(await drain(channel, queue)), ['1r', '2r', '3r']);
});

t.test('an unknown delivery tag closes the channel with 406', async (t) => {
  const { connection, channel, queue, unacked } = await withUnacked(t, 2, 1);
  const failed = channelError(channel);
  channel.ack({ ...unacked[0]!, fields: { ...unacked[0]!.fields, deliveryTag: 99 } });
  const err = await within(failed, 3000, 'channel close');
  t.equal(err.code, 406);
  t.match(err.message, /PRECONDITION_FAILED - unknown delivery tag 99/);
  const other = await connection.createChannel();
  t.same(bodies(await drain(other, queue)), ['1r', '2'], 'the closed channel gave its unacked message back');
});

t.test('acking a delivery twice closes the channel with 406', async (t) => {
  const { channel, unacked } = await withUnacked(t, 2, 2);
  const failed = channelError(channel);
  channel.ack(unacked[0]!);
  channel.ack(unacked[0]!);
  const err = await within(failed, 3000, 'channel close');
  t.equal(err.code, 406);
  t.match(err.message, /unknown delivery tag 1/);
});

t.test('ack multiple naming an already settled tag is a 406 too', async (t) => {
  const { channel, unacked } = await withUnacked(t, 3, 3);
  const failed = channelError(channel);
  channel.ack(unacked[1]!);
  channel.ack(unacked[1]!, true);
  const err = await within(failed, 3000, 'channel close');
  t.equal(err.code, 406);
  t.match(err.message, /unknown delivery tag 2/);
});

t.test('closing a channel requeues its unacked deliveries, marked redelivered', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  const { queue } = await channel.assertQueue('requeue-on-close');
  await publishNumbered(channel, queue, 1, 4);
  const consumer = await connection.createChannel();
  const got = await collect(consumer, queue, 4, { noAck: false });
  consumer.ack(got[1]!);
  t.equal(await readyCount(channel, queue), 0);
  await consumer.close();
  t.same(bodies(await drain(channel, queue)), ['1r', '3r', '4r']);
});

t.test('a closing connection requeues its unacked deliveries', async (t) => {
  const broker = await withBroker(t);
  const channel = await (await connect(t, broker)).createChannel();
  const { queue } = await channel.assertQueue('requeue-on-connection-close');
  await publishNumbered(channel, queue, 1, 2);
  const consumerConnection = await connect(t, broker);
  await collect(await consumerConnection.createChannel(), queue, 2, { noAck: false });
  await consumerConnection.close();
  t.same(bodies(await drain(channel, queue)), ['1r', '2r']);
});

t.test('a dropped TCP connection requeues its unacked deliveries', async (t) => {
  const broker = await withBroker(t);
  const channel = await (await connect(t, broker)).createChannel();
  const { queue } = await channel.assertQueue('requeue-on-drop');
  await publishNumbered(channel, queue, 1, 2);
  // Not through connect(): amqplib's close would wait forever on the dead socket at teardown.
  const consumerConnection = await amqp.connect(broker.url);
  consumerConnection.on('error', () => {});
  await collect(await consumerConnection.createChannel(), queue, 2, { noAck: false });
  // With an error, so that amqplib also gives up on the connection (and its heartbeat timer).
  (consumerConnection.connection as unknown as { stream: Socket }).stream.destroy(new Error('network down'));
  // The broker notices the drop asynchronously.
  await eventually(async () => (await readyCount(channel, queue)) === 2, 3000, 'messages requeued');
  t.same(bodies(await drain(channel, queue)), ['1r', '2r']);
});

t.test('basic.recover redelivers the unacked messages to the consumer, with new tags', async (t) => {
  const { channel } = await brokerChannel(t);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await publishNumbered(channel, queue, 1, 3);
  const got: amqp.ConsumeMessage[] = [];
  await channel.consume(queue, (m) => m !== null && got.push(m));
  await eventually(() => got.length === 3, 3000, 'first deliveries');
  channel.ack(got[1]!);
  await channel.recover();
  await eventually(() => got.length === 5, 3000, 'redeliveries');
  t.same(bodies(got), ['1', '2', '3', '1r', '3r']);
  t.same(got.map((m) => m.fields.deliveryTag), [1, 2, 3, 4, 5]);
  const failed = channelError(channel);
  channel.ack(got[0]!);
  t.equal((await within(failed, 3000, 'channel close')).code, 406, 'tags from before the recover are no longer valid');
});
