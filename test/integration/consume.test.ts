import t from 'tap';
import type * as amqp from 'amqplib';
import { MethodId } from '../../src/protocol/generated/amqp-methods.js';
import { assertChannelRefusal, brokerChannel, channelError, collect, connect, connectionClosed, openChannel, withBroker, within } from '../support/broker.js';
import { bodies, drain, publishNumbered, readyCount } from '../support/messages.js';
import { RawClient } from '../support/raw-client.js';

/** Consumes `queue`, keeping every delivery (or null for a broker cancel) in the returned array. */
async function recorder(channel: amqp.Channel, queue: string, options: amqp.Options.Consume = { noAck: true }) {
  const got: (amqp.ConsumeMessage | null)[] = [];
  const { consumerTag } = await channel.consume(queue, (m) => got.push(m), options);
  return { got, consumerTag };
}

const delivered = (got: readonly (amqp.ConsumeMessage | null)[]): amqp.ConsumeMessage[] => got.filter((m) => m !== null);

t.test('consumers on one queue get its messages in turn', async (t) => {
  const { channel } = await brokerChannel(t);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  const a = await recorder(channel, queue);
  const b = await recorder(channel, queue);
  await publishNumbered(channel, queue, 1, 6);
  t.same(bodies(delivered(a.got)), ['1', '3', '5']);
  t.same(bodies(delivered(b.got)), ['2', '4', '6']);
  t.ok(delivered(a.got).every((m) => m.fields.consumerTag === a.consumerTag), 'deliveries carry their consumer tag');
});

t.test('an empty consumer tag gets a server-generated amq.ctag- tag, unique per consumer', async (t) => {
  const { channel } = await brokerChannel(t);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  const first = await channel.consume(queue, () => {});
  const second = await channel.consume(queue, () => {});
  t.match(first.consumerTag, /^amq\.ctag-[\w-]{10,}$/);
  t.match(second.consumerTag, /^amq\.ctag-[\w-]{10,}$/);
  t.not(first.consumerTag, second.consumerTag);
  const { consumerTag } = await channel.consume(queue, () => {}, { consumerTag: 'my-tag' });
  t.equal(consumerTag, 'my-tag', 'a tag the client chose is kept');
});

t.test('reusing a consumer tag on a channel closes the connection with 530', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  channel.on('error', () => {});
  const closed = connectionClosed(connection);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.consume(queue, () => {}, { consumerTag: 'dup' });
  await t.rejects(channel.consume(queue, () => {}, { consumerTag: 'dup' }));
  const err = await within(closed, 3000, 'connection close');
  t.equal(err?.code, 530);
  t.match(err?.message, /attempt to reuse consumer tag 'dup'/);
});

t.test('the same consumer tag on two channels is allowed', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.consume(queue, () => {}, { consumerTag: 'shared' });
  const other = await connection.createChannel();
  const { consumerTag } = await other.consume(queue, () => {}, { consumerTag: 'shared' });
  t.equal(consumerTag, 'shared');
});

t.test('an exclusive consumer is refused with 403 while the queue has other consumers', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.consume(queue, () => {});
  const second = await openChannel(connection);
  await assertChannelRefusal(t, connection, second.consume(queue, () => {}, { exclusive: true }), 403, 'in exclusive use');
});

t.test('no other consumer can join a queue with an exclusive consumer', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.consume(queue, () => {}, { exclusive: true });
  const second = await openChannel(connection);
  await assertChannelRefusal(t, connection, second.consume(queue, () => {}), 403, 'in exclusive use');
  const third = await openChannel(connection);
  await assertChannelRefusal(t, connection, third.consume(queue, () => {}, { exclusive: true }), 403, 'in exclusive use');
});

t.test('once the exclusive consumer is cancelled, others may consume', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  const { consumerTag } = await channel.consume(queue, () => {}, { exclusive: true });
  await channel.cancel(consumerTag);
  const other = await connection.createChannel();
  const received = collect(other, queue, 1);
  await publishNumbered(channel, queue, 1, 1);
  t.same(bodies(await received), ['1']);
});

t.test('basic.cancel answers cancel-ok and stops deliveries to that consumer', async (t) => {
  const { channel } = await brokerChannel(t);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  const { got, consumerTag } = await recorder(channel, queue);
  await publishNumbered(channel, queue, 1, 2);
  const ok = await channel.cancel(consumerTag);
  t.equal(ok.consumerTag, consumerTag);
  await publishNumbered(channel, queue, 3, 4);
  t.same(bodies(delivered(got)), ['1', '2']);
  t.equal(await readyCount(channel, queue), 2, 'later messages wait in the queue');
  // Cancelling a tag that is not (or no longer) there is answered all the same.
  t.same(await channel.cancel(consumerTag), { consumerTag });
});

t.test('deleting a queue sends its consumers basic.cancel (the callback gets null)', async (t) => {
  const { broker, channel } = await brokerChannel(t);
  const { queue } = await channel.assertQueue('consumed-then-deleted');
  const cancelled = new Promise<null>((resolve) => {
    void channel.consume(queue, (m) => {
      if (m === null) resolve(m);
    });
  });
  await channel.checkQueue(queue);
  const other = await (await connect(t, broker)).createChannel();
  await other.deleteQueue(queue);
  t.equal(await within(cancelled, 3000, 'basic.cancel'), null);
  // The consumer went with the queue: a queue re-created under the same name has none.
  await channel.assertQueue(queue);
  await publishNumbered(other, queue, 1, 1);
  t.equal(await readyCount(channel, queue), 1, 'nothing consumes the re-created queue');
});

for (const notify of [true, false]) {
  t.test(`basic.cancel on queue deletion goes only to clients announcing consumer_cancel_notify (${notify})`, async (t) => {
    const broker = await withBroker(t);
    const client = await RawClient.open(t, broker.port, { clientProperties: { product: 'raw', capabilities: { consumer_cancel_notify: notify } } });
    await client.openChannel(1);
    client.method(1, { id: MethodId.QueueDeclare, queue: 'doomed', passive: false, durable: false, exclusive: false, autoDelete: false, noWait: false, arguments: {} });
    await client.expectMethod(MethodId.QueueDeclareOk, 1);
    client.method(1, { id: MethodId.BasicConsume, queue: 'doomed', consumerTag: 'c1', noLocal: false, noAck: true, exclusive: false, noWait: false, arguments: {} });
    await client.expectMethod(MethodId.BasicConsumeOk, 1);
    client.method(1, { id: MethodId.QueueDelete, queue: 'doomed', ifUnused: false, ifEmpty: false, noWait: false });
    if (notify) t.equal((await client.expectMethod(MethodId.BasicCancel, 1)).consumerTag, 'c1');
    await client.expectMethod(MethodId.QueueDeleteOk, 1);
  });
}

t.test("a cancelled consumer's unacked messages stay with the channel until acked or the channel closes", async (t) => {
  const { connection, channel } = await brokerChannel(t);
  const { queue } = await channel.assertQueue('cancelled-unacked');
  await publishNumbered(channel, queue, 1, 3);
  const consumed = await collect(channel, queue, 3, { noAck: false });
  await channel.cancel(consumed[0]!.fields.consumerTag);
  t.equal(await readyCount(channel, queue), 0, 'cancel does not requeue');
  channel.ack(consumed[0]!);
  await channel.close();
  t.same(bodies(await drain(await connection.createChannel(), queue)), ['2r', '3r']);
});

t.test('a no-ack consumer takes messages off the queue for good', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  const { queue } = await channel.assertQueue('no-ack', { autoDelete: false });
  const { got } = await recorder(channel, queue, { noAck: true });
  await publishNumbered(channel, queue, 1, 3);
  t.same(bodies(delivered(got)), ['1', '2', '3']);
  await channel.close();
  const after = await connection.createChannel();
  t.equal(await readyCount(after, queue), 0, 'closing the channel brings nothing back');
});

t.test('acking a delivery made to a no-ack consumer is an unknown delivery tag (406)', async (t) => {
  const { channel } = await brokerChannel(t);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  const received = collect(channel, queue, 1, { noAck: true });
  await publishNumbered(channel, queue, 1, 1);
  const [m] = await received;
  const failed = channelError(channel);
  channel.ack(m!);
  const err = await within(failed, 3000, 'channel close');
  t.equal(err.code, 406);
  t.match(err.message, /unknown delivery tag 1/);
});

t.test('consumer priorities: higher x-priority consumers get messages first, lower ones while those are full', async (t) => {
  const { channel } = await brokerChannel(t);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.prefetch(2);
  const low = await recorder(channel, queue, { priority: 1 });
  const high = await recorder(channel, queue, { priority: 5 });
  await publishNumbered(channel, queue, 1, 6);
  t.same(bodies(delivered(high.got)), ['1', '2']);
  t.same(bodies(delivered(low.got)), ['3', '4'], 'the lower priority consumer gets what the higher one cannot take');
  channel.ack(delivered(high.got)[0]!);
  await readyCount(channel, queue);
  t.same(bodies(delivered(high.got)), ['1', '2', '5'], 'a freed slot goes to the higher priority consumer');
});

t.test('consumers of equal priority share messages in turn, above lower (even negative) ones', async (t) => {
  const { channel } = await brokerChannel(t);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  const low = await recorder(channel, queue, { noAck: true, priority: -1 });
  const a = await recorder(channel, queue, { noAck: true, priority: 3 });
  const b = await recorder(channel, queue, { noAck: true, arguments: { 'x-priority': 3 } });
  await publishNumbered(channel, queue, 1, 4);
  t.same(bodies(delivered(a.got)), ['1', '3']);
  t.same(bodies(delivered(b.got)), ['2', '4']);
  t.same(low.got, []);
});

t.test('a non-integer x-priority is refused with 406', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  const { queue } = await channel.assertQueue('prioritized');
  const other = await openChannel(connection);
  await assertChannelRefusal(
    t,
    connection,
    other.consume(queue, () => {}, { arguments: { 'x-priority': 'high' } }),
    406,
    `invalid arg 'x-priority' for queue 'prioritized' in vhost '/': "expected integer, got longstr"`,
  );
});
