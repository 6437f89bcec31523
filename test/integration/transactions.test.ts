import t, { type Test } from 'tap';
import type * as amqp from 'amqplib';
import { brokerChannel, openChannel } from '../support/broker.js';
import { txCommit, txRollback, txSelect } from '../support/channel-methods.js';
import { bodies, drain, publishNumbered, readyCount } from '../support/messages.js';

/** A transactional channel, and a plain one on the same connection to watch the queue from outside. */
async function txChannels(t: Test) {
  const { connection, channel: observer } = await brokerChannel(t);
  const { queue } = await observer.assertQueue('tx-queue', { autoDelete: false });
  const tx = await openChannel(connection);
  await txSelect(tx);
  return { connection, observer, tx, queue };
}

/** Gets `n` messages awaiting ack. */
async function getUnacked(channel: amqp.Channel, queue: string, n: number): Promise<amqp.GetMessage[]> {
  const got: amqp.GetMessage[] = [];
  for (let i = 0; i < n; i++) {
    const m = await channel.get(queue);
    if (m === false) throw new Error('queue ran dry');
    got.push(m);
  }
  return got;
}

t.test('publishes in a transaction reach the queue only at commit', async (t) => {
  const { observer, tx, queue } = await txChannels(t);
  const seen: amqp.ConsumeMessage[] = [];
  await observer.consume(queue, (m) => m !== null && seen.push(m), { noAck: true });
  await publishNumbered(tx, queue, 1, 3);
  t.equal(await readyCount(observer, queue), 0, 'nothing queued before commit');
  t.same(seen, [], 'nothing delivered before commit');
  await txCommit(tx);
  await readyCount(observer, queue);
  t.same(bodies(seen), ['1', '2', '3']);
});

t.test('rollback discards the publishes, and the channel stays transactional', async (t) => {
  const { observer, tx, queue } = await txChannels(t);
  await publishNumbered(tx, queue, 1, 2);
  await txRollback(tx);
  t.equal(await readyCount(observer, queue), 0);
  await publishNumbered(tx, queue, 3, 3);
  t.equal(await readyCount(observer, queue), 0, 'a later publish waits for its own commit');
  await txCommit(tx);
  t.same(bodies(await drain(observer, queue)), ['3'], 'only what was committed');
});

t.test('acks in a transaction take effect at commit', async (t) => {
  const { observer, tx, queue } = await txChannels(t);
  await publishNumbered(observer, queue, 1, 3);
  const got = await getUnacked(tx, queue, 2);
  tx.ack(got[0]!);
  tx.ack(got[1]!);
  await txCommit(tx);
  await tx.close();
  t.same(bodies(await drain(observer, queue)), ['3'], 'the acked messages are gone, not requeued');
});

t.test('rollback leaves acked messages unacked: they can be acked again, and return when the channel closes', async (t) => {
  const { observer, tx, queue } = await txChannels(t);
  await publishNumbered(observer, queue, 1, 3);
  const got = await getUnacked(tx, queue, 2);
  tx.ack(got[0]!);
  tx.ack(got[1]!);
  await txRollback(tx);
  t.equal(await readyCount(observer, queue), 1);
  tx.ack(got[0]!);
  await txCommit(tx);
  await tx.close();
  t.same(bodies(await drain(observer, queue)), ['2r', '3'], 'the rolled-back ack left message 2 unacked');
});

t.test('an uncommitted ack is undone when the channel closes', async (t) => {
  const { observer, tx, queue } = await txChannels(t);
  await publishNumbered(observer, queue, 1, 2);
  const got = await getUnacked(tx, queue, 2);
  tx.ack(got[1]!, true);
  await tx.close();
  t.same(bodies(await drain(observer, queue)), ['1r', '2r']);
});

t.test('a requeueing nack in a transaction puts the message back only at commit', async (t) => {
  const { observer, tx, queue } = await txChannels(t);
  await publishNumbered(observer, queue, 1, 2);
  const [first] = await getUnacked(tx, queue, 1);
  tx.nack(first!, false, true);
  t.equal(await readyCount(observer, queue), 1);
  await txCommit(tx);
  t.same(bodies(await drain(observer, queue)), ['1r', '2']);
});

t.test('an unroutable mandatory publish is returned at commit, before commit-ok', async (t) => {
  const { tx } = await txChannels(t);
  const events: string[] = [];
  tx.on('return', (m: amqp.Message) => events.push(`return ${m.content.toString()}`));
  tx.publish('', 'nowhere', Buffer.from('lost'), { mandatory: true });
  await tx.checkQueue('tx-queue');
  events.push('before commit');
  await txCommit(tx);
  events.push('commit-ok');
  t.same(events, ['before commit', 'return lost', 'commit-ok']);
});

t.test('a transactional publish is routed when published, as in RabbitMQ, and delivered at commit', async (t) => {
  const { observer, tx, queue } = await txChannels(t);
  await observer.assertExchange('tx-x', 'direct', { autoDelete: false });
  await observer.bindQueue(queue, 'tx-x', 'k');
  tx.publish('tx-x', 'k', Buffer.from('bound at publish'));
  // The publish is on the wire before the unbind: one connection's frames are processed in order.
  await observer.unbindQueue(queue, 'tx-x', 'k');
  tx.publish('tx-x', 'k', Buffer.from('unbound at publish'));
  await observer.bindQueue(queue, 'tx-x', 'k');
  await txCommit(tx);
  t.same(bodies(await drain(observer, queue)), ['bound at publish'], 'the bindings at commit time play no part');
});

t.test('a queue deleted before commit is looked up again by name; a message left with no queue is returned', async (t) => {
  const { observer, tx, queue } = await txChannels(t);
  const returned: string[] = [];
  tx.on('return', (m: amqp.Message) => returned.push(m.content.toString()));
  tx.publish('', queue, Buffer.from('to the redeclared queue'), { mandatory: true });
  await observer.deleteQueue(queue);
  await observer.assertQueue(queue, { autoDelete: false });
  await observer.assertQueue('tx-gone', { autoDelete: false });
  tx.publish('', 'tx-gone', Buffer.from('to a deleted queue'), { mandatory: true });
  await observer.deleteQueue('tx-gone');
  t.same(returned, [], 'nothing returned before commit');
  await txCommit(tx);
  t.same(bodies(await drain(observer, queue)), ['to the redeclared queue']);
  t.same(returned, ['to a deleted queue']);
});

t.test('tx.commit and tx.rollback on a channel not in tx mode are refused with 406', async (t) => {
  const { connection } = await brokerChannel(t);
  for (const [name, op] of [
    ['tx.commit', txCommit],
    ['tx.rollback', txRollback],
  ] as const) {
    const channel = await openChannel(connection);
    const err = await op(channel).then(
      () => undefined,
      (e: Error & { code?: number }) => e,
    );
    t.equal(err?.code, 406, name);
    t.match(err?.message, /channel is not transactional/);
  }
});
