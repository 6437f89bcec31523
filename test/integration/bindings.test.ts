import type * as amqp from 'amqplib';
import t from 'tap';
import { assertChannelRefusal, brokerChannel, openChannel } from '../support/broker.js';

const DEFAULT_REFUSED = 'ACCESS_REFUSED - operation not permitted on the default exchange';

t.test('queue.bind to a missing queue or exchange is 404; the exchange is reported first', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  await channel.assertQueue('q', { exclusive: true });
  let ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.bindQueue('missing', 'amq.direct', 'k'), 404, "NOT_FOUND - no queue 'missing' in vhost '/'");
  ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.bindQueue('q', 'nox', 'k'), 404, "NOT_FOUND - no exchange 'nox' in vhost '/'");
  ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.bindQueue('missing', 'nox', 'k'), 404, "NOT_FOUND - no exchange 'nox' in vhost '/'");
});

t.test('binding to or unbinding from the default exchange is 403, checked before anything else', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  await channel.assertQueue('q', { exclusive: true });
  const attempts = [
    (ch: amqp.Channel) => ch.bindQueue('q', '', 'k'),
    (ch: amqp.Channel) => ch.bindQueue('missing', '', 'k'),
    (ch: amqp.Channel) => ch.unbindQueue('q', '', 'q'),
    (ch: amqp.Channel) => ch.unbindQueue('missing', '', 'k'),
  ];
  for (const attempt of attempts) {
    const ch = await openChannel(connection);
    await assertChannelRefusal(t, connection, attempt(ch), 403, DEFAULT_REFUSED);
  }
  // The implicit binding still routes by queue name.
  channel.sendToQueue('q', Buffer.from('m'));
  t.equal((await channel.checkQueue('q')).messageCount, 1);
});

t.test('unbinding something that is not there succeeds', async (t) => {
  const { channel } = await brokerChannel(t);
  await channel.assertQueue('q', { exclusive: true });
  t.same(await channel.unbindQueue('q', 'amq.direct', 'never-bound'), {}, 'missing binding');
  t.same(await channel.unbindQueue('missing', 'amq.direct', 'k'), {}, 'missing queue');
  t.same(await channel.unbindQueue('q', 'nox', 'k'), {}, 'missing exchange');
});

t.test('binding twice is binding once: one copy routed, one unbind removes it', async (t) => {
  const { channel } = await brokerChannel(t);
  await channel.assertQueue('q', { exclusive: true });
  await channel.bindQueue('q', 'amq.direct', 'k');
  await channel.bindQueue('q', 'amq.direct', 'k');
  channel.publish('amq.direct', 'k', Buffer.from('once'));
  t.equal((await channel.checkQueue('q')).messageCount, 1);
  await channel.unbindQueue('q', 'amq.direct', 'k');
  channel.publish('amq.direct', 'k', Buffer.from('unrouted'));
  t.equal((await channel.checkQueue('q')).messageCount, 1, 'no longer bound');
});

t.test('bindings with different arguments are different bindings', async (t) => {
  const { channel } = await brokerChannel(t);
  await channel.assertQueue('q', { exclusive: true });
  await channel.bindQueue('q', 'amq.direct', 'k', { tag: 'a' });
  await channel.bindQueue('q', 'amq.direct', 'k', { tag: 'b' });
  await channel.unbindQueue('q', 'amq.direct', 'k', { tag: 'a' });
  channel.publish('amq.direct', 'k', Buffer.from('m'));
  t.equal((await channel.checkQueue('q')).messageCount, 1, 'the binding with tag b still routes');
  await channel.unbindQueue('q', 'amq.direct', 'k', { tag: 'b' });
  channel.publish('amq.direct', 'k', Buffer.from('m'));
  t.equal((await channel.checkQueue('q')).messageCount, 1, 'nothing routes now');
});

t.test('exchange.bind routes from source to destination; exchange.unbind stops it', async (t) => {
  const { channel } = await brokerChannel(t);
  await channel.assertExchange('dest', 'fanout', { durable: false });
  await channel.assertQueue('q', { exclusive: true });
  await channel.bindQueue('q', 'dest', '');
  t.same(await channel.bindExchange('dest', 'amq.topic', 'a.*'), {});
  channel.publish('amq.topic', 'a.b', Buffer.from('routed'));
  channel.publish('amq.topic', 'x.b', Buffer.from('not routed'));
  const m = await channel.get('q', { noAck: true });
  t.equal(m && m.content.toString(), 'routed');
  t.equal((await channel.checkQueue('q')).messageCount, 0);
  t.same(await channel.unbindExchange('dest', 'amq.topic', 'a.*'), {});
  channel.publish('amq.topic', 'a.b', Buffer.from('after unbind'));
  t.equal((await channel.checkQueue('q')).messageCount, 0);
});

t.test('exchange.bind: 404 for a missing source or destination, 403 for the default exchange', async (t) => {
  const { connection } = await brokerChannel(t);
  // amqplib's bindExchange takes the destination first.
  let ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.bindExchange('amq.direct', 'nosrc', 'k'), 404, "NOT_FOUND - no exchange 'nosrc' in vhost '/'");
  ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.bindExchange('nodest', 'amq.direct', 'k'), 404, "NOT_FOUND - no exchange 'nodest' in vhost '/'");
  ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.bindExchange('amq.direct', '', 'k'), 403, DEFAULT_REFUSED);
  ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.bindExchange('', 'amq.direct', 'k'), 403, DEFAULT_REFUSED);
  ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.bindExchange('nodest', '', 'k'), 403, DEFAULT_REFUSED);
  ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.unbindExchange('amq.direct', '', 'k'), 403, DEFAULT_REFUSED);
});

t.test('exchange.unbind of a missing source, destination or binding succeeds', async (t) => {
  const { channel } = await brokerChannel(t);
  t.same(await channel.unbindExchange('amq.direct', 'nosrc', 'k'), {});
  t.same(await channel.unbindExchange('nodest', 'amq.direct', 'k'), {});
  t.same(await channel.unbindExchange('amq.fanout', 'amq.direct', 'k'), {});
});

t.test('a headers binding with an invalid x-match is 406', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  await channel.assertQueue('q', { exclusive: true });
  const ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.bindQueue('q', 'amq.headers', '', { 'x-match': 'some' }), 406,
    'PRECONDITION_FAILED - Invalid x-match field value <<"some">>; expected all, any, all-with-x, or any-with-x');
});
