import type * as amqp from 'amqplib';
import t, { type Test } from 'tap';
import { assertChannelRefusal, connect, openChannel, queueExists, withBroker } from '../support/broker.js';

// Reply texts as RabbitMQ 3.10 words them (checked against it), Erlang terms included.

type Args = NonNullable<amqp.Options.AssertQueue['arguments']>;
const typed = (type: string, value: unknown) => ({ '!': type, value });

async function brokerConnection(t: Test): Promise<amqp.ChannelModel> {
  return connect(t, await withBroker(t));
}

/** Declares `queue` with `args` on a channel of its own and asserts the 406 and its text after "PRECONDITION_FAILED - ". */
async function refused(t: Test, connection: amqp.ChannelModel, args: Args, text: string, options: amqp.Options.AssertQueue = { exclusive: true }, queue = 'q'): Promise<void> {
  const ch = await openChannel(connection);
  await assertChannelRefusal(t, connection, ch.assertQueue(queue, { ...options, arguments: args }), 406, `PRECONDITION_FAILED - ${text}`);
}

async function accepted(t: Test, connection: amqp.ChannelModel, args: Args, what: string, options: amqp.Options.AssertQueue = { exclusive: true }): Promise<void> {
  const ch = await openChannel(connection);
  const ok = await ch.assertQueue('q', { ...options, arguments: args }).catch((e: Error) => e);
  t.notOk(ok instanceof Error, `${what}${ok instanceof Error ? `: ${ok.message}` : ''}`);
  if (!(ok instanceof Error)) await ch.deleteQueue('q');
  await ch.close().catch(() => {});
}

const invalid = (key: string, reason: string) => `invalid arg '${key}' for queue 'q' in vhost '/': ${reason}`;

t.test('integer arguments refuse other types, naming the type received', async (t) => {
  const connection = await brokerConnection(t);
  const cases: [string, unknown, string][] = [
    ['x-message-ttl', 'abc', 'longstr'],
    ['x-message-ttl', 1.5, 'double'],
    ['x-message-ttl', true, 'bool'],
    ['x-message-ttl', null, 'void'],
    ['x-message-ttl', typed('float', 5), 'float'],
    ['x-message-ttl', typed('timestamp', 5), 'timestamp'],
    ['x-message-ttl', typed('decimal', { places: 0, digits: 5 }), 'decimal'],
    ['x-message-ttl', Buffer.from('5'), 'binary'],
    ['x-message-ttl', [1], 'array'],
    ['x-message-ttl', { a: 1 }, 'table'],
    ['x-expires', 'abc', 'longstr'],
    ['x-max-length', 'abc', 'longstr'],
    ['x-max-length-bytes', 'x', 'longstr'],
    ['x-max-priority', 'x', 'longstr'],
  ];
  for (const [key, value, type] of cases) await refused(t, connection, { [key]: value }, invalid(key, `"expected integer, got ${type}"`));
});

t.test('integer arguments refuse values out of range', async (t) => {
  const connection = await brokerConnection(t);
  const cases: [string, unknown, string][] = [
    ['x-message-ttl', -1, '{value_negative,-1}'],
    ['x-message-ttl', typed('long', 315360000001), '{value_too_large,315360000001}'],
    ['x-expires', 0, '{value_zero,0}'],
    ['x-expires', -1, '{value_negative,-1}'],
    ['x-expires', typed('long', 2 ** 40), `{value_too_large,${2 ** 40}}`],
    ['x-max-length', -1, '{value_negative,-1}'],
    ['x-max-length-bytes', -1, '{value_negative,-1}'],
    ['x-max-priority', -1, '{value_negative,-1}'],
    ['x-max-priority', 256, '{max_value_exceeded,256}'],
    ['x-max-priority', typed('unsignedint', 300), '{max_value_exceeded,300}'],
  ];
  for (const [key, value, reason] of cases) await refused(t, connection, { [key]: value }, invalid(key, reason));
});

t.test('integers of every signed and unsigned type are accepted, up to the limits', async (t) => {
  const connection = await brokerConnection(t);
  for (const type of ['byte', 'unsignedbyte', 'short', 'unsignedshort', 'int', 'unsignedint', 'long']) {
    await accepted(t, connection, { 'x-message-ttl': typed(type, 5), 'x-max-length': typed(type, 0) }, type);
  }
  await accepted(t, connection, { 'x-message-ttl': 0, 'x-expires': typed('long', 315360000000) }, 'a TTL of 0 and the longest expiry');
  await accepted(t, connection, { 'x-max-priority': 255, 'x-max-length-bytes': typed('long', 2 ** 53 - 1) }, 'the highest priority and a huge length');
});

t.test('string and boolean arguments refuse other types and unknown values', async (t) => {
  const connection = await brokerConnection(t);
  const cases: [Args, string, string][] = [
    [{ 'x-overflow': 'foo' }, 'x-overflow', 'invalid_overflow'],
    [{ 'x-overflow': 5 }, 'x-overflow', '{unacceptable_type,byte}'],
    [{ 'x-overflow': Buffer.from('drop-head') }, 'x-overflow', '{unacceptable_type,binary}'],
    [{ 'x-queue-type': 'foo' }, 'x-queue-type', `"unsupported queue type 'foo'"`],
    [{ 'x-queue-type': 5 }, 'x-queue-type', '{unacceptable_type,byte}'],
    [{ 'x-queue-mode': 'foo' }, 'x-queue-mode', `"unsupported queue mode 'foo'"`],
    [{ 'x-queue-version': 3 }, 'x-queue-version', `"unsupported queue version '3'"`],
    [{ 'x-dead-letter-routing-key': 'rk' }, 'x-dead-letter-routing-key', 'routing_key_but_no_dlx_defined'],
    [{ 'x-dead-letter-routing-key': 5 }, 'x-dead-letter-routing-key', '{unacceptable_type,byte}'],
    [{ 'x-single-active-consumer': 'yes' }, 'x-single-active-consumer', '{unacceptable_type,longstr}'],
    [{ 'x-single-active-consumer': 1 }, 'x-single-active-consumer', '{unacceptable_type,byte}'],
  ];
  for (const [args, key, reason] of cases) await refused(t, connection, args, invalid(key, reason));
  // The dead-letter exchange has a wording of its own.
  await refused(t, connection, { 'x-dead-letter-exchange': 5 }, "invalid type 'byte' for arg 'x-dead-letter-exchange' in queue 'q' in vhost '/'");
  await refused(t, connection, { 'x-dead-letter-exchange': Buffer.from('dlx') }, "invalid type 'binary' for arg 'x-dead-letter-exchange' in queue 'q' in vhost '/'");
});

t.test('valid string and boolean arguments are accepted', async (t) => {
  const connection = await brokerConnection(t);
  for (const overflow of ['drop-head', 'reject-publish', 'reject-publish-dlx']) await accepted(t, connection, { 'x-overflow': overflow }, overflow);
  for (const mode of ['default', 'lazy']) await accepted(t, connection, { 'x-queue-mode': mode }, mode);
  await accepted(t, connection, { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'rk' }, 'a routing key with a dead-letter exchange');
  await accepted(t, connection, { 'x-single-active-consumer': false, 'x-queue-type': 'classic', 'x-queue-version': 2 }, 'classic, version 2, a boolean');
  await accepted(t, connection, { 'x-app': 'anything', 'x-priority': 'x', 'x-queue-master-locator': 'foo' }, 'arguments not checked');
});

t.test('with several bad arguments, the one RabbitMQ checks first is reported', async (t) => {
  const connection = await brokerConnection(t);
  await refused(t, connection, { 'x-message-ttl': 'a', 'x-expires': 'b' }, invalid('x-expires', '"expected integer, got longstr"'));
  await refused(t, connection, { 'x-max-length': 'a', 'x-message-ttl': 'b' }, invalid('x-message-ttl', '"expected integer, got longstr"'));
  await refused(t, connection, { 'x-message-ttl': 'a', 'x-dead-letter-exchange': 5 }, "invalid type 'byte' for arg 'x-dead-letter-exchange'");
  await refused(t, connection, { 'x-message-ttl': 'a', 'x-queue-type': 'foo' }, invalid('x-queue-type', `"unsupported queue type 'foo'"`));
});

t.test('arguments of another queue type are refused for that reason', async (t) => {
  const connection = await brokerConnection(t);
  for (const key of ['x-delivery-limit', 'x-max-in-memory-length', 'x-max-age', 'x-dead-letter-strategy', 'x-quorum-initial-group-size']) {
    await refused(t, connection, { [key]: 5 }, `invalid arg '${key}' for queue 'q' in vhost '/' of queue type rabbit_classic_queue`);
  }
  // A classic queue's own arguments are checked first.
  await refused(t, connection, { 'x-delivery-limit': 5, 'x-message-ttl': 'a' }, invalid('x-message-ttl', '"expected integer, got longstr"'));
  const quorum = { durable: true, exclusive: false };
  await refused(t, connection, { 'x-queue-type': 'quorum', 'x-max-priority': 'a' }, "invalid arg 'x-max-priority' for queue 'q' in vhost '/' of queue type rabbit_quorum_queue", quorum);
  await refused(t, connection, { 'x-queue-type': 'stream', 'x-message-ttl': 5 }, "invalid arg 'x-message-ttl' for queue 'q' in vhost '/' of queue type rabbit_stream_queue", quorum);
  await accepted(t, connection, { 'x-queue-type': 'quorum', 'x-delivery-limit': 5 }, 'a quorum queue takes a delivery limit', quorum);
});

t.test('quorum and stream queues must be durable, shared, not auto-delete, and named by the client', async (t) => {
  const connection = await brokerConnection(t);
  const property = (p: string) => `invalid property '${p}' for queue 'q' in vhost '/'`;
  for (const type of ['quorum', 'stream']) {
    const args = { 'x-queue-type': type };
    await refused(t, connection, args, property('exclusive-owner'), { durable: true, exclusive: true });
    await refused(t, connection, args, property('non-durable'), { durable: false });
    await refused(t, connection, args, property('auto-delete'), { durable: true, autoDelete: true });
    const ch = await openChannel(connection);
    await assertChannelRefusal(t, connection, ch.assertQueue('', { durable: true, arguments: args }), 406, `PRECONDITION_FAILED - Cannot declare a server-named queue for type rabbit_${type}_queue`);
  }
});

t.test('a server-named queue is named in the refusal, and nothing is created', async (t) => {
  const connection = await brokerConnection(t);
  const ch = await openChannel(connection);
  const err = await ch.assertQueue('', { exclusive: true, arguments: { 'x-max-length': 'a' } }).catch((e: Error) => e);
  t.match((err as Error).message, /invalid arg 'x-max-length' for queue 'amq\.gen-[\w-]{22}' in vhost '\/': "expected integer, got longstr"/);
  t.notOk(await queueExists(connection, 'q'));
  await refused(t, connection, { 'x-max-length': -1 }, invalid('x-max-length', '{value_negative,-1}'), { durable: true });
  t.notOk(await queueExists(connection, 'q'), 'a refused durable queue is not created either');
});

t.test('a redeclare compares the arguments of the queue type, and validates none', async (t) => {
  const connection = await brokerConnection(t);
  const ch = await connection.createChannel();
  await ch.assertQueue('q', { durable: false, arguments: { 'x-max-length': 5, 'x-queue-version': 1 } });
  await refused(t, connection, { 'x-max-length': 'abc', 'x-queue-version': 1 }, "inequivalent arg 'x-max-length' for queue 'q' in vhost '/': received 'abc' but current is '5'", { durable: false });
  await refused(t, connection, { 'x-max-length': 5, 'x-queue-version': 2 }, "inequivalent arg 'x-queue-version' for queue 'q' in vhost '/': received '2' but current is '1'", { durable: false });
  t.same(await ch.assertQueue('q', { durable: false, arguments: { 'x-max-length': 5, 'x-queue-version': 1, 'x-delivery-limit': 7 } }), { queue: 'q', messageCount: 0, consumerCount: 0 }, "a classic queue does not compare a quorum queue's argument");
  await ch.assertQueue('qq', { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 5 } });
  await refused(t, connection, { 'x-queue-type': 'quorum', 'x-delivery-limit': 6 }, "inequivalent arg 'x-delivery-limit' for queue 'qq' in vhost '/': received '6' but current is '5'", { durable: true }, 'qq');
});
