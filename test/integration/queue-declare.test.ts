import type * as amqp from 'amqplib';
import t from 'tap';
import { assertChannelRefusal, brokerChannel, connect, openChannel, withBroker } from '../support/broker.js';

t.test('a queue declared without a name gets a fresh amq.gen- name each time', async (t) => {
  const { channel } = await brokerChannel(t);
  const a = await channel.assertQueue('', { exclusive: true });
  const b = await channel.assertQueue('', { exclusive: true });
  t.match(a.queue, /^amq\.gen-[A-Za-z0-9_-]{22}$/);
  t.not(a.queue, b.queue);
  t.same({ messageCount: a.messageCount, consumerCount: a.consumerCount }, { messageCount: 0, consumerCount: 0 });
});

t.test('declare-ok reports the ready messages and the consumers', async (t) => {
  const { channel } = await brokerChannel(t);
  await channel.assertQueue('q', { durable: false });
  channel.sendToQueue('q', Buffer.from('1'));
  channel.sendToQueue('q', Buffer.from('2'));
  t.same(await channel.assertQueue('q', { durable: false }), { queue: 'q', messageCount: 2, consumerCount: 0 });
  await channel.consume('q', () => {}, { noAck: false });
  // Both messages went to the consumer, unacknowledged: they no longer count as ready.
  t.same(await channel.checkQueue('q'), { queue: 'q', messageCount: 0, consumerCount: 1 });
});

t.test('passive declare: counts for an existing queue, 404 for a missing one', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  channel.sendToQueue(queue, Buffer.from('m'));
  t.same(await channel.checkQueue(queue), { queue, messageCount: 1, consumerCount: 0 }, 'a server-named queue can be checked by name');
  let ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.checkQueue('missing'), 404, "NOT_FOUND - no queue 'missing' in vhost '/'");
  // Unlike other queue methods, a passive declare does not read '' as the last declared queue.
  ch = await openChannel(connection);
  await ch.assertQueue('', { exclusive: true });
  await assertChannelRefusal(t, connection, ch.checkQueue(''), 404, "NOT_FOUND - no queue '' in vhost '/'");
});

t.test('amq.* queue names are reserved to the broker', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  let ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.assertQueue('amq.mine'), 403, "ACCESS_REFUSED - queue name 'amq.mine' contains reserved prefix 'amq.*'");
  ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.checkQueue('amq.mine'), 404, "NOT_FOUND - no queue 'amq.mine' in vhost '/'");
  // Even a server-named queue cannot be redeclared by its name, only checked.
  const { queue } = await channel.assertQueue('', { exclusive: true });
  ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.assertQueue(queue, { exclusive: true }), 403, `ACCESS_REFUSED - queue name '${queue}' contains reserved prefix 'amq.*'`);
});

t.test('redeclaring with different durable or auto-delete is 406; a different exclusive flag is 405', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  await channel.assertQueue('q', { durable: false });
  let ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.assertQueue('q', { durable: true }), 406, "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'q' in vhost '/': received 'true' but current is 'false'");
  ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.assertQueue('q', { durable: false, autoDelete: true }), 406, "PRECONDITION_FAILED - inequivalent arg 'auto_delete' for queue 'q' in vhost '/': received 'true' but current is 'false'");
  ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.assertQueue('q', { durable: false, exclusive: true }), 405, "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'q' in vhost '/'");
  // The owner of an exclusive queue cannot redeclare it as non-exclusive either.
  await channel.assertQueue('mine', { exclusive: true });
  ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.assertQueue('mine', { exclusive: false }), 405, "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'mine'");
  ch = await openChannel(connection);
  t.same(await ch.assertQueue('mine', { exclusive: true }), { queue: 'mine', messageCount: 0, consumerCount: 0 }, 'same flags, another channel of the owner');
});

t.test('an exclusive queue is never durable, so redeclaring it with another durable flag is fine', async (t) => {
  const { channel } = await brokerChannel(t);
  const ok = { queue: 'mine', messageCount: 0, consumerCount: 0 };
  t.same(await channel.assertQueue('mine', { exclusive: true, durable: true }), ok);
  t.same(await channel.assertQueue('mine', { exclusive: true, durable: false }), ok, 'durable=false');
  t.same(await channel.assertQueue('mine', { exclusive: true, durable: true }), ok, 'durable=true again');
});

t.test('redeclaring with a different value of a known x-argument is 406', async (t) => {
  const broker = await withBroker(t);
  const connection = await connect(t, broker);
  const args = { 'x-message-ttl': 1000, 'x-max-length': 10, 'x-dead-letter-exchange': 'dlx' };
  await (await connection.createChannel()).assertQueue('q', { durable: false, arguments: args });
  const inequivalent = "PRECONDITION_FAILED - inequivalent arg";
  const cases: [amqp.Options.AssertQueue['arguments'], string][] = [
    [{ ...args, 'x-message-ttl': 2000 }, "'x-message-ttl' for queue 'q' in vhost '/': received '2000' but current is '1000'"],
    [{ ...args, 'x-message-ttl': undefined }, "'x-message-ttl' for queue 'q' in vhost '/': received none but current is the value '1000' of type 'short'"],
    [{ ...args, 'x-max-length': 11 }, "'x-max-length' for queue 'q' in vhost '/': received '11' but current is '10'"],
    [{ ...args, 'x-dead-letter-exchange': 'other' }, "'x-dead-letter-exchange' for queue 'q' in vhost '/': received 'other' but current is 'dlx'"],
    [{ ...args, 'x-expires': 100000 }, "'x-expires' for queue 'q' in vhost '/': received the value '100000' of type 'signedint' but current is none"],
    [{ ...args, 'x-max-priority': 5 }, "'x-max-priority' for queue 'q' in vhost '/': received the value '5' of type 'byte' but current is none"],
    [{ ...args, 'x-queue-type': 'quorum' }, "'x-queue-type' for queue 'q' in vhost '/': received the value 'quorum' of type 'longstr' but current is none"],
    [{ ...args, 'x-message-ttl': '1000' }, "'x-message-ttl' for queue 'q' in vhost '/': received '1000' but current is '1000'"],
    // An integer and a float of the same value are different arguments to RabbitMQ (checked against 3.10.8).
    [{ ...args, 'x-max-length': { '!': 'double', value: 10 } }, "'x-max-length' for queue 'q' in vhost '/': received '10.0' but current is '10'"],
    [{ ...args, 'x-max-length': { '!': 'float', value: 10 } }, "'x-max-length' for queue 'q' in vhost '/': received '10.0' but current is '10'"],
  ];
  for (const [redeclared, text] of cases) {
    const ch = await openChannel(connection);
    await assertChannelRefusal(t, connection, ch.assertQueue('q', { durable: false, arguments: redeclared }), 406, `${inequivalent} ${text}`);
  }
});

t.test('redeclaring is fine when only unknown arguments differ, whatever the numeric type, or with the default queue type', async (t) => {
  const { channel } = await brokerChannel(t);
  await channel.assertQueue('q', { durable: false, arguments: { 'x-message-ttl': 1000, 'x-app': 'a' } });
  const ok = { queue: 'q', messageCount: 0, consumerCount: 0 };
  t.same(await channel.assertQueue('q', { durable: false, arguments: { 'x-message-ttl': 1000, 'x-app': 'b', tag: 1 } }), ok, 'unknown arguments are ignored');
  t.same(await channel.assertQueue('q', { durable: false, arguments: { 'x-message-ttl': { '!': 'long', value: 1000 } } }), ok, 'a TTL sent as a long equals one sent as a short');
  t.same(await channel.assertQueue('q', { durable: false, arguments: { 'x-message-ttl': 1000, 'x-queue-type': 'classic' } }), ok, 'classic is the default type');
  await channel.assertQueue('typed', { durable: false, arguments: { 'x-queue-type': 'classic' } });
  t.same(await channel.assertQueue('typed', { durable: false }), { ...ok, queue: 'typed' }, 'and the reverse');
});
