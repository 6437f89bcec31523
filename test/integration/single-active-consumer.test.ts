import type * as amqp from 'amqplib';
import t from 'tap';
import { assertChannelRefusal, brokerChannel, connect, eventually, openChannel, withBroker } from '../support/broker.js';
import { publishNumbered, readyCount } from '../support/messages.js';

// x-single-active-consumer: every consumer registers, one gets the messages.
// When it goes (cancelled, its channel or connection closed), the next one
// takes over with what is left and what the old one had unacked, requeued to
// its place. Each scenario was run against RabbitMQ 3.10 with the same
// script; where 3.10 misbehaves (hand-over on basic.cancel, see below) the
// test says so.

const SAC = { 'x-single-active-consumer': true };

/** Deliveries of every consumer of a test, in arrival order, as "name:body" ("r" appended when redelivered). */
type Log = string[];

interface Recorded {
  readonly channel: amqp.Channel;
  readonly consumerTag: string;
  /** Deliveries left unacked, to ack or nack later. */
  readonly unacked: amqp.ConsumeMessage[];
}

/** A consumer on a channel of its own (with `prefetch`, acking unless told not to) that logs what it gets. */
async function consumer(connection: amqp.ChannelModel, queue: string, name: string, log: Log, o: { prefetch?: number; ack?: boolean; priority?: number } = {}): Promise<Recorded> {
  const channel = await openChannel(connection);
  if (o.prefetch !== undefined) await channel.prefetch(o.prefetch);
  const unacked: amqp.ConsumeMessage[] = [];
  const options = o.priority === undefined ? {} : { priority: o.priority };
  const { consumerTag } = await channel.consume(queue, (m) => {
    if (m === null) return;
    log.push(`${name}:${m.content.toString()}${m.fields.redelivered ? 'r' : ''}`);
    if (o.ack === false) unacked.push(m);
    else channel.ack(m);
  }, options);
  return { channel, consumerTag, unacked };
}

/** Waits until `log` holds `n` entries, then takes them out. */
async function next(log: Log, n: number): Promise<string[]> {
  await eventually(() => log.length >= n, 3000, `${n} deliveries (got ${log.join(' ')})`);
  return log.splice(0);
}

t.test('only the first consumer gets messages; declare-ok counts every consumer', async (t) => {
  const { connection, channel: ch } = await brokerChannel(t);
  await ch.assertQueue('q', { arguments: SAC });
  const log: Log = [];
  await consumer(connection, 'q', 'A', log, { prefetch: 2, ack: false });
  await consumer(connection, 'q', 'B', log);
  await consumer(connection, 'q', 'C', log, { priority: 10 });
  await publishNumbered(ch, 'q', 1, 5);
  t.same(await next(log, 2), ['A:1', 'A:2'], 'the active one only, up to its prefetch');
  const ok = await ch.checkQueue('q');
  t.same([ok.messageCount, ok.consumerCount], [3, 3], 'the rest wait for it; all three consumers count');
  t.same(log, [], 'the waiting consumers got nothing, the higher-priority one neither');
});

t.test('on channel close the next consumer gets the requeued messages, then the rest, in order', async (t) => {
  const { connection, channel: ch } = await brokerChannel(t);
  await ch.assertQueue('q', { arguments: SAC });
  const log: Log = [];
  const a = await consumer(connection, 'q', 'A', log, { prefetch: 2, ack: false });
  await consumer(connection, 'q', 'B', log);
  await publishNumbered(ch, 'q', 1, 4);
  t.same(await next(log, 2), ['A:1', 'A:2']);
  await a.channel.close();
  t.same(await next(log, 4), ['B:1r', 'B:2r', 'B:3', 'B:4']);
  t.equal((await ch.checkQueue('q')).consumerCount, 1);
});

t.test('on connection close the same: unacked messages come back to the next consumer first', async (t) => {
  const broker = await withBroker(t);
  const main = await connect(t, broker);
  const other = await connect(t, broker);
  const ch = await main.createChannel();
  await ch.assertQueue('q', { arguments: SAC });
  const log: Log = [];
  await consumer(other, 'q', 'A', log, { prefetch: 3, ack: false });
  await consumer(main, 'q', 'B', log);
  await publishNumbered(ch, 'q', 1, 5);
  t.same(await next(log, 3), ['A:1', 'A:2', 'A:3']);
  await other.close();
  t.same(await next(log, 5), ['B:1r', 'B:2r', 'B:3r', 'B:4', 'B:5']);
});

t.test('on basic.cancel the next consumer takes over at once; the old one keeps its unacked messages', async (t) => {
  const { connection, channel: ch } = await brokerChannel(t);
  await ch.assertQueue('q', { arguments: SAC });
  const log: Log = [];
  const a = await consumer(connection, 'q', 'A', log, { prefetch: 1, ack: false });
  await consumer(connection, 'q', 'B', log);
  await publishNumbered(ch, 'q', 1, 3);
  t.same(await next(log, 1), ['A:1']);
  // RabbitMQ 3.10 delivers nothing here until something else (a publish, an ack) runs the queue, and its
  // classic queue then crashes (badmatch in rabbit_queue_consumers:deliver_to_consumer); its quorum queues
  // hand over at once, as here.
  await a.channel.cancel(a.consumerTag);
  t.same(await next(log, 2), ['B:2', 'B:3']);
  a.channel.nack(a.unacked[0]!, false, true);
  t.same(await next(log, 1), ['B:1r'], 'what the cancelled consumer gives back goes to the new active one');
  t.equal((await ch.checkQueue('q')).consumerCount, 1);
});

t.test('the next active consumer is the waiting one of highest x-priority, the earliest among equals', async (t) => {
  const { connection, channel: ch } = await brokerChannel(t);
  await ch.assertQueue('q', { arguments: SAC });
  const log: Log = [];
  const a = await consumer(connection, 'q', 'A', log, { priority: 5 });
  const b = await consumer(connection, 'q', 'B', log);
  const c = await consumer(connection, 'q', 'C', log, { priority: 10 });
  const d = await consumer(connection, 'q', 'D', log, { priority: 10 });
  await publishNumbered(ch, 'q', 1, 1);
  t.same(await next(log, 1), ['A:1'], 'the first to register, though others have a higher priority');
  await a.channel.close();
  await publishNumbered(ch, 'q', 2, 2);
  t.same(await next(log, 1), ['C:2']);
  await consumer(connection, 'q', 'E', log, { priority: 20 });
  await publishNumbered(ch, 'q', 3, 3);
  t.same(await next(log, 1), ['C:3'], 'a newcomer of higher priority does not take over');
  await c.channel.close();
  await d.channel.close();
  await publishNumbered(ch, 'q', 4, 4);
  t.same(await next(log, 1), ['E:4']);
  await b.channel.close();
});

t.test('a consumer can register while another is active, and an active one can come back as a waiting one', async (t) => {
  const { connection, channel: ch } = await brokerChannel(t);
  await ch.assertQueue('q', { arguments: SAC });
  const log: Log = [];
  const a = await consumer(connection, 'q', 'A', log);
  await publishNumbered(ch, 'q', 1, 1);
  t.same(await next(log, 1), ['A:1']);
  await consumer(connection, 'q', 'B', log);
  await a.channel.cancel(a.consumerTag);
  await a.channel.consume('q', (m) => m !== null && log.push(`A2:${m.content.toString()}`), { noAck: true });
  await publishNumbered(ch, 'q', 2, 3);
  t.same(await next(log, 2), ['B:2', 'B:3']);
  t.equal((await ch.checkQueue('q')).consumerCount, 2);
});

t.test('an exclusive basic.consume is refused (403) on a single-active-consumer queue, even an unused one', async (t) => {
  const { connection, channel: ch } = await brokerChannel(t);
  await ch.assertQueue('q', { arguments: SAC });
  const other = await openChannel(connection);
  await assertChannelRefusal(t, connection, other.consume('q', () => {}, { exclusive: true }), 403, "queue 'q' in vhost '/' in exclusive use");
  await ch.assertQueue('plain', { arguments: { 'x-single-active-consumer': false } });
  const third = await openChannel(connection);
  t.ok((await third.consume('plain', () => {}, { exclusive: true })).consumerTag, 'x-single-active-consumer false is a plain queue');
});

t.test('a quorum queue hands over in registration order, whatever the priority, and counts only the active consumer', async (t) => {
  const { connection, channel: ch } = await brokerChannel(t);
  await ch.assertQueue('qq', { durable: true, arguments: { ...SAC, 'x-queue-type': 'quorum' } });
  const log: Log = [];
  const a = await consumer(connection, 'qq', 'A', log, { prefetch: 2, ack: false });
  await consumer(connection, 'qq', 'B', log);
  await consumer(connection, 'qq', 'C', log, { priority: 10 });
  t.equal((await ch.checkQueue('qq')).consumerCount, 1);
  await publishNumbered(ch, 'qq', 1, 3);
  t.same(await next(log, 2), ['A:1', 'A:2']);
  await a.channel.close();
  t.same(await next(log, 3), ['B:1r', 'B:2r', 'B:3']);
  t.equal(await readyCount(ch, 'qq'), 0);
});
