import type * as amqp from 'amqplib';
import t from 'tap';
import { collect, queueExists } from '../../test/support/broker.js';
import { open, refusal, refusedWith, removeAfter, session, target, unique } from './support.js';

// queue.declare: names, passive, equivalence, durable, exclusive and auto-delete.

t.test('[queue.declare/default-binding] a new queue is reachable through the default exchange by its name', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { queue } = await channel.assertQueue(unique('default-binding'), { exclusive: true });
  const got = collect(channel, queue, 1);
  channel.publish('', queue, Buffer.from('by name'));
  t.equal((await got)[0]?.content.toString(), 'by name');
});

t.test('[queue.declare/minimum-queues] at least 256 queues can be declared', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  for (let i = 0; i < 300; i++) await channel.assertQueue('', { exclusive: true });
  t.pass('300 queues declared');
});

t.test('[queue.declare.queue/default-name] an empty name gets a fresh, unique server-generated name', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const names = new Set<string>();
  for (let i = 0; i < 10; i++) names.add((await channel.assertQueue('', { exclusive: true })).queue);
  t.equal(names.size, 10, 'ten different names');
  t.ok([...names].every((n) => n.length > 0), 'none empty');
});

t.test('[queue.declare.queue/reserved] declaring a new queue named amq.* is refused with 403', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  t.equal((await refusal(channel.assertQueue(`amq.${unique('reserved')}`)))?.code, 403);
});

t.test('[queue.declare.queue/syntax] names outside the spec\'s character set are accepted, as RabbitMQ does', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const name = `${unique('syntax')} with spaces/slashes#and*stars`;
  await channel.assertQueue(name, { exclusive: true });
  const got = collect(channel, name, 1);
  channel.sendToQueue(name, Buffer.from('odd name'));
  t.equal((await got)[0]?.content.toString(), 'odd name');
});

t.test('[queue.declare.passive/passive] a passive declare reports an existing queue and refuses a missing one with 404', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { queue } = await channel.assertQueue(unique('passive'), { exclusive: true });
  channel.sendToQueue(queue, Buffer.from('one'));
  const ok = await channel.checkQueue(queue);
  t.same([ok.queue, ok.consumerCount], [queue, 0], 'declare-ok names the queue');
  t.equal((await refusal(channel.checkQueue(unique('missing'))))?.code, 404);
});

t.test('[queue.declare.passive/equivalent] a redeclaration must match durable, exclusive, auto-delete and known arguments', async (t) => {
  const to = await target(t);
  const connection = await open(t, to);
  const name = unique('equivalent');
  removeAfter(t, to, { queues: [name] });
  const ch = await connection.createChannel();
  const options = { durable: true, arguments: { 'x-message-ttl': 60000 } };
  await ch.assertQueue(name, options);
  await ch.assertQueue(name, { ...options, arguments: { ...options.arguments, 'x-unknown': 'ignored' } });
  t.pass('the same declaration (plus an unknown argument) succeeds');
  const mismatches: [string, amqp.Options.AssertQueue][] = [
    ['durable', { ...options, durable: false }],
    ['auto-delete', { ...options, autoDelete: true }],
    ['x-message-ttl', { ...options, arguments: { 'x-message-ttl': 1000 } }],
  ];
  for (const [what, o] of mismatches) t.equal(await refusedWith(connection, (c) => c.assertQueue(name, o)), 406, `a different ${what} is 406`);
  t.equal(await refusedWith(connection, (c) => c.assertQueue(name, { ...options, exclusive: true })), 405, 'exclusive on a shared queue is 405');
});

t.test('[queue.declare.durable/types] durable and transient queues can both be declared and remember the flag', async (t) => {
  const to = await target(t);
  const connection = await open(t, to);
  const durable = unique('durable');
  const transient = unique('transient');
  removeAfter(t, to, { queues: [durable, transient] });
  const ch = await connection.createChannel();
  await ch.assertQueue(durable, { durable: true });
  await ch.assertQueue(transient, { durable: false });
  await ch.assertQueue(durable, { durable: true });
  await ch.assertQueue(transient, { durable: false });
  t.pass('each redeclared as itself');
  t.equal(await refusedWith(connection, (c) => c.assertQueue(durable, { durable: false })), 406, 'the durable one is not transient');
  t.equal(await refusedWith(connection, (c) => c.assertQueue(transient, { durable: true })), 406, 'the transient one is not durable');
});

t.test('[queue.declare.exclusive/types] [queue.declare.exclusive/exclusive] another connection may use a shared queue but not an exclusive one (405)', async (t) => {
  const to = await target(t);
  const { channel: owner } = await session(t, to);
  const exclusive = unique('exclusive');
  const shared = unique('shared');
  removeAfter(t, to, { queues: [shared] });
  await owner.assertQueue(exclusive, { exclusive: true });
  await owner.assertQueue(shared, { exclusive: false, durable: false });
  const other = await open(t, to);
  const attempts: [string, (ch: amqp.Channel, q: string) => Promise<unknown>][] = [
    ['declare', (ch, q) => ch.assertQueue(q, { exclusive: false, durable: false })],
    ['passive declare', (ch, q) => ch.checkQueue(q)],
    ['bind', (ch, q) => ch.bindQueue(q, 'amq.direct', q)],
    ['consume', (ch, q) => ch.consume(q, () => {})],
    ['get', (ch, q) => ch.get(q)],
    ['purge', (ch, q) => ch.purgeQueue(q)],
    ['delete', (ch, q) => ch.deleteQueue(q)],
  ];
  for (const [what, op] of attempts) {
    t.equal(await refusedWith(other, (ch) => op(ch, exclusive)), 405, `${what} of another connection's exclusive queue is 405`);
  }
  for (const [what, op] of attempts) {
    if (what === 'delete') continue;
    t.equal(await refusedWith(other, (ch) => op(ch, shared)), undefined, `${what} of a shared queue succeeds`);
  }
  t.ok(await queueExists(other, shared), 'the shared queue is there');
});

t.test('[queue.declare.auto-delete/pre-existence] a redeclaration with the other auto-delete value is refused with 406, as RabbitMQ does', async (t) => {
  const to = await target(t);
  const connection = await open(t, to);
  const auto = unique('auto');
  const explicit = unique('explicit');
  removeAfter(t, to, { queues: [explicit] });
  const ch = await connection.createChannel();
  await ch.assertQueue(auto, { autoDelete: true, durable: false });
  await ch.consume(auto, () => {});
  await ch.assertQueue(explicit, { autoDelete: false, durable: false });
  t.equal(await refusedWith(connection, (c) => c.assertQueue(auto, { autoDelete: false, durable: false })), 406, 'auto-delete declared as explicit');
  t.equal(await refusedWith(connection, (c) => c.assertQueue(explicit, { autoDelete: true, durable: false })), 406, 'explicit declared as auto-delete');
  t.ok(await queueExists(connection, auto), 'the auto-delete queue is still there');
  t.ok(await queueExists(connection, explicit), 'the explicit-delete queue is still there');
});
