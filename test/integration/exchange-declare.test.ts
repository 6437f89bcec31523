import type * as amqp from 'amqplib';
import t from 'tap';
import { assertChannelRefusal, brokerChannel, connectionClosed, exchangeExists, openChannel } from '../support/broker.js';

const TYPES = ['direct', 'fanout', 'topic', 'headers'] as const;

t.test('exchanges of every built-in type can be declared and found by a passive declare', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  for (const type of TYPES) {
    t.same(await channel.assertExchange(`x.${type}`, type, { durable: false }), { exchange: `x.${type}` });
    t.ok(await exchangeExists(connection, `x.${type}`), `${type} exchange exists`);
  }
});

t.test('a passive declare of a missing exchange is 404 on the channel', async (t) => {
  const { connection } = await brokerChannel(t);
  const ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.checkExchange('nope'), 404, "NOT_FOUND - no exchange 'nope' in vhost '/'");
});

t.test('redeclaring with the same properties succeeds; arguments the broker does not know are not compared', async (t) => {
  const { channel } = await brokerChannel(t);
  await channel.assertExchange('x', 'direct', { durable: false, arguments: { 'alternate-exchange': 'ae', 'x-app': 1 } });
  t.same(await channel.assertExchange('x', 'direct', { durable: false, arguments: { 'alternate-exchange': 'ae', 'x-app': 2, other: 'y' } }), { exchange: 'x' });
});

t.test('redeclaring with a different type, flag or alternate exchange is 406 naming the difference', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  const ae1 = { 'alternate-exchange': 'ae1' };
  await channel.assertExchange('x', 'direct', { durable: false, arguments: ae1 });
  const cases: [string, amqp.Options.AssertExchange, string][] = [
    ['fanout', { durable: false, arguments: ae1 }, "'type' for exchange 'x' in vhost '/': received 'fanout' but current is 'direct'"],
    ['direct', { durable: true, arguments: ae1 }, "'durable' for exchange 'x' in vhost '/': received 'true' but current is 'false'"],
    ['direct', { durable: false, autoDelete: true, arguments: ae1 }, "'auto_delete' for exchange 'x' in vhost '/': received 'true' but current is 'false'"],
    ['direct', { durable: false, internal: true, arguments: ae1 }, "'internal' for exchange 'x' in vhost '/': received 'true' but current is 'false'"],
    ['direct', { durable: false, arguments: { 'alternate-exchange': 'ae2' } }, "'alternate-exchange' for exchange 'x' in vhost '/': received 'ae2' but current is 'ae1'"],
    ['direct', { durable: false }, "'alternate-exchange' for exchange 'x' in vhost '/': received none but current is the value 'ae1' of type 'longstr'"],
  ];
  for (const [type, options, text] of cases) {
    const ch = await openChannel(connection);
    await assertChannelRefusal(t, connection, ch.assertExchange('x', type, options), 406, `PRECONDITION_FAILED - inequivalent arg ${text}`);
  }
});

t.test('an unknown exchange type closes the connection with 503', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  const closed = connectionClosed(connection);
  await t.rejects(channel.assertExchange('x', 'x-no-such-type'));
  const err = await closed;
  t.equal(err?.code, 503);
  t.match(err?.message, "COMMAND_INVALID - unknown exchange type 'x-no-such-type'");
});

t.test('the type is checked before anything else: redeclaring an existing exchange with an unknown type is 503 too', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  await channel.assertExchange('x', 'direct');
  const closed = connectionClosed(connection);
  await t.rejects(channel.assertExchange('x', 'no-such-type'));
  t.equal((await closed)?.code, 503);
});

t.test('an alternate-exchange argument that is not a string is 406 for a new exchange', async (t) => {
  const { connection } = await brokerChannel(t);
  for (const [value, type] of [[5, 'byte'], [Buffer.from('ae'), 'binary']] as const) {
    const ch = await openChannel(connection);
    await assertChannelRefusal(t, connection, ch.assertExchange('x', 'direct', { arguments: { 'alternate-exchange': value } }), 406, `PRECONDITION_FAILED - invalid type '${type}' for arg 'alternate-exchange' in exchange 'x' in vhost '/'`);
  }
  t.notOk(await exchangeExists(connection, 'x'), 'nothing was created');
});

t.test('amq.* names are reserved, but the predeclared exchanges can be asserted as they are', async (t) => {
  const { connection } = await brokerChannel(t);
  let ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.assertExchange('amq.mine', 'direct'), 403, "ACCESS_REFUSED - exchange name 'amq.mine' contains reserved prefix 'amq.*'");
  ch = await openChannel(connection);
  t.same(await ch.assertExchange('amq.topic', 'topic', { durable: true }), { exchange: 'amq.topic' });
  for (const [name, type] of [['amq.direct', 'direct'], ['amq.fanout', 'fanout'], ['amq.headers', 'headers'], ['amq.match', 'headers']] as const) {
    await ch.assertExchange(name, type, { durable: true });
  }
  await assertChannelRefusal(t, connection, ch.assertExchange('amq.topic', 'direct', { durable: true }), 406, "inequivalent arg 'type' for exchange 'amq.topic' in vhost '/': received 'direct' but current is 'topic'");
  ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.assertExchange('amq.topic', 'topic', { durable: false }), 406, "inequivalent arg 'durable' for exchange 'amq.topic'");
});

t.test('the default exchange cannot be declared, even passively', async (t) => {
  const { connection } = await brokerChannel(t);
  const denied = 'ACCESS_REFUSED - operation not permitted on the default exchange';
  let ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.assertExchange('', 'direct'), 403, denied);
  ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.checkExchange(''), 403, denied);
});

t.test('exchange.delete: a missing exchange is fine; reserved ones are 403', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  t.same(await channel.deleteExchange('missing'), {});
  t.same(await channel.deleteExchange('missing', { ifUnused: true }), {});
  let ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.deleteExchange('amq.direct'), 403, "ACCESS_REFUSED - deletion of system exchange 'amq.direct' in vhost '/' not allowed");
  t.ok(await exchangeExists(connection, 'amq.direct'));
  ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.deleteExchange(''), 403, 'ACCESS_REFUSED - operation not permitted on the default exchange');
});

t.test('exchange.delete if-unused refuses an exchange that is the source of a binding', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  await channel.assertExchange('src', 'direct', { durable: false });
  await channel.assertExchange('dest', 'fanout', { durable: false });
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(queue, 'src', 'k');
  await channel.bindExchange('dest', 'src', 'k');
  const ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.deleteExchange('src', { ifUnused: true }), 406, "PRECONDITION_FAILED - exchange 'src' in vhost '/' in use");
  t.ok(await exchangeExists(connection, 'src'), 'still there');
  // Being the destination of a binding is not being used.
  await channel.deleteExchange('dest', { ifUnused: true });
  t.notOk(await exchangeExists(connection, 'dest'));
  await channel.deleteExchange('src');
  t.notOk(await exchangeExists(connection, 'src'));
});

t.test('a deleted exchange takes its bindings with it', async (t) => {
  const { channel } = await brokerChannel(t);
  await channel.assertExchange('x', 'direct', { durable: false });
  const { queue } = await channel.assertQueue('q');
  await channel.bindQueue(queue, 'x', 'k');
  await channel.deleteExchange('x');
  await channel.assertExchange('x', 'direct', { durable: false });
  channel.publish('x', 'k', Buffer.from('m'));
  t.equal((await channel.checkQueue(queue)).messageCount, 0);
});

t.test('an auto-delete exchange goes when its last binding as a source goes, not before', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  await channel.assertExchange('ad', 'direct', { durable: false, autoDelete: true });
  t.ok(await exchangeExists(connection, 'ad'), 'never bound: stays');
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(queue, 'ad', 'a');
  await channel.bindQueue(queue, 'ad', 'b');
  await channel.unbindQueue(queue, 'ad', 'a');
  t.ok(await exchangeExists(connection, 'ad'), 'one binding left');
  await channel.unbindQueue(queue, 'ad', 'b');
  t.notOk(await exchangeExists(connection, 'ad'), 'gone after the last unbind');

  await channel.assertExchange('ad', 'direct', { durable: false, autoDelete: true });
  await channel.bindQueue(queue, 'ad', 'a');
  await channel.deleteQueue(queue);
  t.notOk(await exchangeExists(connection, 'ad'), 'gone with its only bound queue');

  await channel.assertExchange('ad', 'direct', { durable: false, autoDelete: true });
  await channel.bindExchange('amq.fanout', 'ad', 'k');
  await channel.unbindExchange('amq.fanout', 'ad', 'k');
  t.notOk(await exchangeExists(connection, 'ad'), 'gone after its exchange-to-exchange binding');

  await channel.assertExchange('ad', 'direct', { durable: false, autoDelete: true });
  await channel.bindExchange('ad', 'amq.fanout', 'k');
  await channel.unbindExchange('ad', 'amq.fanout', 'k');
  t.ok(await exchangeExists(connection, 'ad'), 'a binding to it as destination does not count');
});

t.test('an internal exchange refuses publishes (403) but receives through exchange-to-exchange bindings', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  await channel.assertExchange('inner', 'fanout', { durable: false, internal: true });
  await channel.assertExchange('outer', 'direct', { durable: false });
  await channel.bindExchange('inner', 'outer', 'k');
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(queue, 'inner', '');
  channel.publish('outer', 'k', Buffer.from('via outer'));
  const m = await channel.get(queue, { noAck: true });
  t.equal(m && m.content.toString(), 'via outer');

  const ch = await openChannel(connection);
  const refused = new Promise<Error & { code?: number }>((resolve) => ch.once('error', resolve));
  ch.publish('inner', 'k', Buffer.from('direct'));
  const err = await refused;
  t.equal(err.code, 403);
  t.match(err.message, "ACCESS_REFUSED - cannot publish to internal exchange 'inner' in vhost '/'");
  t.equal((await channel.checkQueue(queue)).messageCount, 0, 'the refused message went nowhere');
});
