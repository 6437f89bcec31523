import t from 'tap';
import type * as amqp from 'amqplib';
import { assertChannelRefusal, brokerChannel, channelError, collect, connect, connectionClosed, openChannel, within } from '../support/broker.js';
import { bodies, publishNumbered, readyCount } from '../support/messages.js';

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
