import t from 'tap';
import { collect, connectionClosed, delay, eventually, exchangeExists } from '../../test/support/broker.js';
import { open, refusal, removeAfter, session, target, unique } from './support.js';

// The exchange class and exchange.declare / exchange.delete.

t.test('[exchange/required-types] [exchange/recommended-types] fanout, direct, topic and headers exchanges declare and route', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const cases: [string, string, Record<string, unknown>, string, Record<string, unknown>][] = [
    ['fanout', '', {}, 'anything', {}],
    ['direct', 'key', {}, 'key', {}],
    ['topic', 'a.*', {}, 'a.b', {}],
    ['headers', '', { 'x-match': 'all', kind: 'x' }, '', { kind: 'x' }],
  ];
  for (const [type, bindingKey, bindArgs, routingKey, headers] of cases) {
    const exchange = unique(type);
    await channel.assertExchange(exchange, type, { durable: false, autoDelete: true });
    const { queue } = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(queue, exchange, bindingKey, bindArgs);
    const got = collect(channel, queue, 1);
    channel.publish(exchange, routingKey, Buffer.from(type), { headers });
    t.equal((await got)[0]?.content.toString(), type, `a ${type} exchange routes`);
  }
});

t.test('[exchange/required-instances] amq.direct, amq.fanout, amq.topic, amq.headers and amq.match are predeclared with their types', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const instances: [string, string][] = [
    ['amq.direct', 'direct'],
    ['amq.fanout', 'fanout'],
    ['amq.topic', 'topic'],
    ['amq.headers', 'headers'],
    ['amq.match', 'headers'],
  ];
  // Redeclaring with the same type and durability succeeds only if the exchange has exactly those.
  for (const [name, type] of instances) {
    await channel.assertExchange(name, type, { durable: true });
    t.pass(`${name} is a durable ${type} exchange`);
  }
});

t.test('[exchange/default-exchange] a message published to the nameless exchange reaches the queue named by its routing key', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { queue } = await channel.assertQueue(unique('default'), { exclusive: true });
  const got = collect(channel, queue, 1);
  channel.publish('', queue, Buffer.from('via default'));
  t.equal((await got)[0]?.content.toString(), 'via default');
});

t.test('[exchange/default-access] the default exchange cannot be declared, deleted or bound to by name', async (t) => {
  const to = await target(t);
  const connection = await open(t, to);
  const attempts: [string, (ch: import('amqplib').Channel) => Promise<unknown>][] = [
    ['exchange.declare', (ch) => ch.assertExchange('', 'direct')],
    ['exchange.delete', (ch) => ch.deleteExchange('')],
    ['queue.bind', async (ch) => ch.bindQueue((await ch.assertQueue('', { exclusive: true })).queue, '', 'k')],
  ];
  for (const [what, attempt] of attempts) {
    const ch = await connection.createChannel();
    ch.on('error', () => {});
    const err = await refusal(attempt(ch));
    t.equal(err?.code, 403, `${what} on the default exchange is 403`);
  }
});

t.test('[exchange.declare/minimum] at least 16 exchanges can be declared', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const names = Array.from({ length: 32 }, (_, i) => unique(`many-${i}`));
  removeAfter(t, to, { exchanges: names });
  for (const name of names) await channel.assertExchange(name, 'direct', { durable: false });
  t.pass('32 exchanges declared');
});

t.test('[exchange.declare.exchange/reserved] a new exchange named amq.* is refused with 403; a passive declare of one is fine', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  t.equal((await refusal(channel.assertExchange(`amq.${unique('reserved')}`, 'direct')))?.code, 403);
  const { channel: other } = await session(t, to);
  await other.checkExchange('amq.direct');
  t.pass('passive declare of amq.direct succeeds');
});

t.test('[exchange.declare.exchange/syntax] names outside the spec\'s character set are accepted, as RabbitMQ does', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const name = `${unique('syntax')} with spaces/slashes#and*stars`;
  removeAfter(t, to, { exchanges: [name] });
  await channel.assertExchange(name, 'fanout', { durable: false });
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(queue, name, '');
  const got = collect(channel, queue, 1);
  channel.publish(name, '', Buffer.from('odd name'));
  t.equal((await got)[0]?.content.toString(), 'odd name');
});

t.test('[exchange.declare.type/typed] redeclaring an exchange with another type is refused with 406', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const name = unique('typed');
  await channel.assertExchange(name, 'direct', { autoDelete: true, durable: false });
  const { channel: ch2 } = await session(t, to);
  await ch2.bindQueue((await ch2.assertQueue('', { exclusive: true })).queue, name, 'k');
  t.equal((await refusal(channel.assertExchange(name, 'fanout', { autoDelete: true, durable: false })))?.code, 406);
});

t.test('[exchange.declare.type/support] an exchange type the broker does not know is a connection error 503', async (t) => {
  const to = await target(t);
  const { connection, channel } = await session(t, to);
  const closed = connectionClosed(connection);
  const err = await refusal(channel.assertExchange(unique('type'), 'no-such-type'));
  t.ok(err, 'the declare fails');
  t.equal((await closed)?.code, 503);
});

t.test('[exchange.declare.passive/not-found] a passive declare of a missing exchange is refused with 404', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  t.equal((await refusal(channel.checkExchange(unique('missing'))))?.code, 404);
});

t.test('[exchange.declare.passive/equivalent] a redeclaration must match durable and the arguments the broker knows', async (t) => {
  const to = await target(t);
  const connection = await open(t, to);
  const name = unique('equivalent');
  removeAfter(t, to, { exchanges: [name] });
  const ch = await connection.createChannel();
  await ch.assertExchange(name, 'topic', { durable: true, alternateExchange: 'amq.fanout' });
  await ch.assertExchange(name, 'topic', { durable: true, alternateExchange: 'amq.fanout', arguments: { 'x-unknown': 1 } });
  t.pass('the same declaration (plus an unknown argument) succeeds');
  const mismatches: [string, import('amqplib').Options.AssertExchange][] = [
    ['durable', { durable: false, alternateExchange: 'amq.fanout' }],
    ['alternate-exchange', { durable: true, alternateExchange: 'amq.direct' }],
  ];
  for (const [what, options] of mismatches) {
    const other = await connection.createChannel();
    other.on('error', () => {});
    t.equal((await refusal(other.assertExchange(name, 'topic', options)))?.code, 406, `a different ${what} is 406`);
  }
});

t.test('[exchange.declare.durable/support] durable and transient exchanges both route', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const durable = unique('durable');
  const transient = unique('transient');
  removeAfter(t, to, { exchanges: [durable, transient] });
  for (const [name, isDurable] of [[durable, true], [transient, false]] as const) {
    await channel.assertExchange(name, 'fanout', { durable: isDurable });
    const { queue } = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(queue, name, '');
    const got = collect(channel, queue, 1);
    channel.publish(name, '', Buffer.from(name));
    t.equal((await got)[0]?.content.toString(), name, isDurable ? 'durable' : 'transient');
  }
});

t.test('[exchange.declare.auto-delete/amq_exchange_02] an auto-delete exchange waits for its first binding and goes with its last', async (t) => {
  const to = await target(t);
  const { connection, channel } = await session(t, to);
  const name = unique('auto-delete');
  await channel.assertExchange(name, 'fanout', { autoDelete: true, durable: false });
  await delay(200);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(queue, name, '');
  t.pass('bound 200 ms after the declaration');
  t.ok(await exchangeExists(connection, name), 'exists while bound');
  await channel.unbindQueue(queue, name, '');
  await eventually(async () => !(await exchangeExists(connection, name)), 3000, 'the auto-delete exchange deleted');
  t.pass('deleted once its last binding is gone');
});

t.test('[exchange.declare.auto-delete/amq_exchange_25] a redeclaration with another auto-delete is refused with 406, as RabbitMQ does', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const name = unique('auto-delete-flip');
  removeAfter(t, to, { exchanges: [name] });
  await channel.assertExchange(name, 'direct', { autoDelete: false, durable: false });
  t.equal((await refusal(channel.assertExchange(name, 'direct', { autoDelete: true, durable: false })))?.code, 406);
});

t.test('[exchange.delete.exchange/exists] deleting an exchange that does not exist succeeds, as RabbitMQ does', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  await channel.deleteExchange(unique('never-declared'));
  t.pass('delete-ok');
});

t.test('[exchange.delete.if-unused/in-use] if-unused refuses to delete a bound exchange with 406 and deletes an unbound one', async (t) => {
  const to = await target(t);
  const { connection, channel } = await session(t, to);
  const bound = unique('in-use');
  const unbound = unique('unused');
  removeAfter(t, to, { exchanges: [bound, unbound] });
  await channel.assertExchange(bound, 'direct', { durable: false });
  await channel.assertExchange(unbound, 'direct', { durable: false });
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(queue, bound, 'k');
  t.equal((await refusal(channel.deleteExchange(bound, { ifUnused: true })))?.code, 406);
  t.ok(await exchangeExists(connection, bound), 'the bound exchange is still there');
  const { channel: ch2 } = await session(t, to);
  await ch2.deleteExchange(unbound, { ifUnused: true });
  t.notOk(await exchangeExists(connection, unbound), 'the unbound exchange is deleted');
});
