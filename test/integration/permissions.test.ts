import * as amqp from 'amqplib';
import t, { type Test } from 'tap';
import type { Broker } from '../../src/index.js';
import { MethodId } from '../../src/protocol/generated/amqp-methods.js';
import { connect, withBroker } from '../support/broker.js';
import { plainResponse, RawClient } from '../support/raw-client.js';

// Every refusal here was first seen on RabbitMQ 3.10.8, with the same user, patterns and client calls.

/** bob may configure, write and read only what starts with "bob-" in "/"; a topic exchange limits his routing keys. */
async function bobsBroker(t: Test): Promise<Broker> {
  const broker = await withBroker(t);
  await broker.admin.addUser('bob', 'secret');
  await broker.admin.setPermissions('bob', '/', { configure: '^bob-.*', write: '^bob-.*', read: '^bob-.*' });
  await broker.admin.setTopicPermissions('bob', '/', 'bob-x', { write: '^w\\.', read: '^r\\.' });
  const admin = await (await connect(t, broker)).createChannel();
  await admin.assertQueue('other-q', { durable: false });
  await admin.assertQueue('bob-q', { durable: false });
  await admin.assertExchange('other-x', 'topic', { durable: false });
  await admin.assertExchange('bob-x', 'topic', { durable: false });
  return broker;
}

function asBob(t: Test, broker: Broker, vhost = ''): Promise<amqp.ChannelModel> {
  return connect(t, broker, { username: 'bob', password: 'secret', vhost });
}

/** Runs `op` on a new channel; resolves with the error text the broker closed the channel with, or 'ok'. */
async function attempt(connection: amqp.ChannelModel, op: (ch: amqp.Channel) => Promise<unknown>): Promise<string> {
  const ch = await connection.createChannel();
  ch.on('error', () => {});
  try {
    await op(ch);
    await ch.close();
    return 'ok';
  } catch (err) {
    const text = /"(.*)"/.exec((err as Error).message)?.[1];
    return `${(err as { code?: number }).code} ${text ?? (err as Error).message}`;
  }
}

/** A publish is refused asynchronously: a round trip after it shows whether the channel survived. */
const publishThen = (exchange: string, routingKey: string) => async (ch: amqp.Channel) => {
  ch.publish(exchange, routingKey, Buffer.from('x'));
  await ch.checkQueue('bob-q');
};

const refused = (resource: string): string => `403 ACCESS_REFUSED - access to ${resource} in vhost '/' refused for user 'bob'`;

t.test('each operation is refused outside the user\'s permissions, with RabbitMQ\'s words, and the connection lives on', async (t) => {
  const broker = await bobsBroker(t);
  const bob = await asBob(t, broker);
  const cases: [string, (ch: amqp.Channel) => Promise<unknown>, string][] = [
    ['exchange.declare (configure)', (ch) => ch.assertExchange('other-x', 'topic', { durable: false }), refused("exchange 'other-x'")],
    ['exchange.delete (configure)', (ch) => ch.deleteExchange('other-x'), refused("exchange 'other-x'")],
    ['exchange.declare with an alternate exchange (write on it)', (ch) => ch.assertExchange('bob-ae', 'fanout', { durable: false, alternateExchange: 'other-x' }), refused("exchange 'other-x'")],
    ['queue.declare (configure)', (ch) => ch.assertQueue('other-q', { durable: false }), refused("queue 'other-q'")],
    ['queue.declare of a server-named queue (configure on its name)', (ch) => ch.assertQueue('', { exclusive: true }), "403 ACCESS_REFUSED - access to queue 'amq.gen-"],
    ['queue.declare with a dead-letter exchange (write on it)', (ch) => ch.assertQueue('bob-dlx', { durable: false, deadLetterExchange: 'other-x' }), refused("exchange 'other-x'")],
    ['queue.delete (configure)', (ch) => ch.deleteQueue('other-q'), refused("queue 'other-q'")],
    ['queue.purge (read)', (ch) => ch.purgeQueue('other-q'), refused("queue 'other-q'")],
    ['queue.bind from a source not readable', (ch) => ch.bindQueue('bob-q', 'other-x', 'k'), refused("exchange 'other-x'")],
    ['queue.bind to a queue not writable', (ch) => ch.bindQueue('other-q', 'bob-x', 'k'), refused("queue 'other-q'")],
    ['queue.unbind from a queue not writable', (ch) => ch.unbindQueue('other-q', 'bob-x', 'k'), refused("queue 'other-q'")],
    ['exchange.bind from a source not readable', (ch) => ch.bindExchange('bob-x', 'other-x', 'k'), refused("exchange 'other-x'")],
    ['exchange.bind to a destination not writable', (ch) => ch.bindExchange('other-x', 'bob-x', 'k'), refused("exchange 'other-x'")],
    ['basic.publish (write)', publishThen('other-x', 'k'), refused("exchange 'other-x'")],
    ['basic.publish to the default exchange (write on amq.default)', publishThen('', 'bob-q'), refused("exchange 'amq.default'")],
    ['basic.consume (read)', (ch) => ch.consume('other-q', () => {}), refused("queue 'other-q'")],
    ['basic.get (read)', (ch) => ch.get('other-q'), refused("queue 'other-q'")],
    ['queue.bind to the default exchange', (ch) => ch.bindQueue('bob-q', '', 'k'), '403 ACCESS_REFUSED - operation not permitted on the default exchange'],
    ['basic.publish with a routing key outside the topic write pattern', publishThen('bob-x', 'other'), refused("topic 'other' in exchange 'bob-x'")],
    ['queue.bind with a routing key outside the topic read pattern', (ch) => ch.bindQueue('bob-q', 'bob-x', 'other'), refused("topic 'other' in exchange 'bob-x'")],
    ['queue.unbind with a routing key outside the topic read pattern', (ch) => ch.unbindQueue('bob-q', 'bob-x', 'other'), refused("topic 'other' in exchange 'bob-x'")],
  ];
  for (const [what, op, expected] of cases) {
    const got = await attempt(bob, op);
    t.ok(got.startsWith(expected), `${what}: ${got}`);
  }
  t.equal(await attempt(bob, (ch) => ch.checkQueue('bob-q')), 'ok', 'the connection is still open after all of them');
});

t.test('within the permissions everything goes through; passive declares need none, as in RabbitMQ', async (t) => {
  const broker = await bobsBroker(t);
  const bob = await asBob(t, broker);
  const cases: [string, (ch: amqp.Channel) => Promise<unknown>][] = [
    ['exchange.declare', (ch) => ch.assertExchange('bob-y', 'fanout', { durable: false })],
    ['exchange.declare with an alternate exchange', (ch) => ch.assertExchange('bob-ae', 'fanout', { durable: false, alternateExchange: 'bob-x' })],
    ['queue.declare', (ch) => ch.assertQueue('bob-r', { durable: false })],
    ['queue.bind with a routing key in the topic read pattern', (ch) => ch.bindQueue('bob-q', 'bob-x', 'r.key')],
    ['exchange.bind', (ch) => ch.bindExchange('bob-y', 'bob-x', 'r.key')],
    ['basic.publish with a routing key in the topic write pattern', publishThen('bob-x', 'w.key')],
    ['basic.publish on an exchange with no topic permission', publishThen('bob-y', 'anything')],
    ['basic.consume', (ch) => ch.consume('bob-q', () => {})],
    ['basic.get', (ch) => ch.get('bob-q')],
    ['queue.purge', (ch) => ch.purgeQueue('bob-q')],
    ['passive exchange.declare of another\'s exchange', (ch) => ch.checkExchange('other-x')],
    ['passive queue.declare of another\'s queue', (ch) => ch.checkQueue('other-q')],
    ['queue.delete', (ch) => ch.deleteQueue('bob-r')],
    ['exchange.delete', (ch) => ch.deleteExchange('bob-y')],
  ];
  for (const [what, op] of cases) t.equal(await attempt(bob, op), 'ok', what);
});

t.test('the default exchange is amq.default to the patterns', async (t) => {
  const broker = await bobsBroker(t);
  await broker.admin.setPermissions('bob', '/', { configure: '^bob-.*', write: '^amq\\.default$', read: '^bob-.*' });
  const bob = await asBob(t, broker);
  t.equal(await attempt(bob, publishThen('', 'bob-q')), 'ok', 'a publish to the default exchange is allowed by a pattern for amq.default');
  await broker.admin.setPermissions('bob', '/', { configure: '^bob-.*', write: '^$', read: '^bob-.*' });
  t.equal(await attempt(bob, publishThen('', 'bob-q')), refused("exchange 'amq.default'"), 'and not by one for the empty name');
});

t.test('a permission change applies to open channels at once', async (t) => {
  const broker = await bobsBroker(t);
  const ch = await (await asBob(t, broker)).createChannel();
  ch.publish('bob-x', 'w.1', Buffer.from('x'));
  await ch.checkQueue('bob-q');
  await broker.admin.setPermissions('bob', '/', { configure: '^bob-.*', write: '', read: '^bob-.*' });
  const closed = new Promise<Error>((resolve) => ch.once('error', resolve));
  ch.publish('bob-x', 'w.2', Buffer.from('x'));
  t.match((await closed).message, /access to exchange 'bob-x' in vhost '\/' refused for user 'bob'/, 'the next publish is refused (an empty pattern allows nothing)');
});

/** The reply to connection.open, or the connection.close that refused it. */
async function openVhost(t: Test, broker: Broker, user: string, password: string, vhost: string): Promise<string> {
  const raw = await RawClient.connect(t, broker.port);
  await raw.startHandshake({ response: plainResponse(user, password) });
  const tune = await raw.expectMethod(MethodId.ConnectionTune);
  raw.method(0, { id: MethodId.ConnectionTuneOk, channelMax: tune.channelMax, frameMax: tune.frameMax, heartbeat: 0 });
  raw.method(0, { id: MethodId.ConnectionOpen, virtualHost: vhost });
  const reply = await raw.next();
  return reply.method?.id === MethodId.ConnectionClose ? `${reply.method.replyCode} ${reply.method.replyText}` : 'open';
}

t.test('connection.open: a vhost the user has no permission in is refused with 530, as a missing one is', async (t) => {
  const broker = await bobsBroker(t);
  await broker.admin.addVhost('v1');
  t.equal(await openVhost(t, broker, 'bob', 'secret', 'v1'), "530 NOT_ALLOWED - access to vhost 'v1' refused for user 'bob'");
  t.equal(await openVhost(t, broker, 'bob', 'secret', 'missing'), '530 NOT_ALLOWED - vhost missing not found');
  await broker.admin.setPermissions('bob', 'v1', { configure: '', write: '', read: '' });
  t.equal(await openVhost(t, broker, 'bob', 'secret', 'v1'), 'open', 'any permission entry, even one allowing nothing, lets the user in');
});

t.test('a vhost has its own exchanges and queues; deleting it closes its connections and removes what it held', async (t) => {
  const broker = await withBroker(t);
  await broker.admin.addVhost('v1');
  await broker.admin.setPermissions('guest', 'v1', { configure: '.*', write: '.*', read: '.*' });
  const inV1 = await connect(t, broker, { vhost: 'v1' });
  const ch = await inV1.createConfirmChannel();
  await ch.checkExchange('amq.topic');
  await ch.assertQueue('shared-name', { durable: true });
  ch.sendToQueue('shared-name', Buffer.from('in v1'), { persistent: true });
  await ch.waitForConfirms();
  const root = await (await connect(t, broker)).createChannel();
  t.equal((await root.assertQueue('shared-name', { durable: false })).messageCount, 0, 'the same name in "/" is another queue');

  const closed = new Promise<Error>((resolve) => inV1.once('close', resolve));
  await broker.admin.deleteVhost('v1');
  t.match((await closed).message, /320 \(CONNECTION-FORCED\) with message "CONNECTION_FORCED - vhost 'v1' is down"/, 'its connection is closed');
  t.equal(await openVhost(t, broker, 'guest', 'guest', 'v1'), '530 NOT_ALLOWED - vhost v1 not found', 'it is gone');
  t.same(broker.admin.listPermissions({ vhost: 'v1' }), [], 'with its permissions');
  await broker.admin.addVhost('v1');
  await broker.admin.setPermissions('guest', 'v1', { configure: '.*', write: '.*', read: '.*' });
  const again = await (await connect(t, broker, { vhost: 'v1' })).createChannel();
  await t.rejects(again.checkQueue('shared-name'), /404/, 'a vhost made again under the same name starts empty');
});

t.test('users: a wrong password is refused, a changed one works, a deleted user is disconnected and cannot log in', async (t) => {
  const broker = await withBroker(t);
  await broker.admin.addUser('carol', 'first', ['monitoring']);
  await broker.admin.setPermissions('carol', '/', { configure: '.*', write: '.*', read: '.*' });
  await t.rejects(amqp.connect({ hostname: '127.0.0.1', port: broker.port, username: 'carol', password: 'wrong' }), /ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN/);
  await broker.admin.changePassword('carol', 'second');
  await t.rejects(amqp.connect({ hostname: '127.0.0.1', port: broker.port, username: 'carol', password: 'first' }), /ACCESS_REFUSED/, 'the old password no longer works');
  const carol = await connect(t, broker, { username: 'carol', password: 'second' });
  t.same(broker.admin.listUsers().find((u) => u.name === 'carol'), { name: 'carol', tags: ['monitoring'] }, 'listed with her tags');
  await t.rejects(broker.admin.addUser('carol', 'x'), /user 'carol' already exists/);
  await t.rejects(broker.admin.setPermissions('carol', '/', { configure: '(', write: '', read: '' }), /invalid regular expression/);

  const closed = new Promise<Error>((resolve) => carol.once('close', resolve));
  await broker.admin.deleteUser('carol');
  t.match((await closed).message, /CONNECTION_FORCED - user 'carol' is deleted/, 'her open connection is closed');
  await t.rejects(amqp.connect({ hostname: '127.0.0.1', port: broker.port, username: 'carol', password: 'second' }), /ACCESS_REFUSED/, 'and she cannot log in');
  t.same(broker.admin.listPermissions({ user: 'carol' }), [], 'her permissions went with her');
});

t.test('a password hash exported from RabbitMQ logs in with its password', async (t) => {
  const broker = await withBroker(t);
  // From `rabbitmqctl export_definitions` on RabbitMQ 3.10.8, for a user added with the password "secret".
  await broker.admin.putUser({ name: 'bob', passwordHash: 'k+gFDO/BzCGT96Orfngq1R2TfCRO0m6u7EwEiQVa+Qvkeb7x', hashingAlgorithm: 'rabbit_password_hashing_sha256', tags: [] });
  await broker.admin.setPermissions('bob', '/', { configure: '.*', write: '.*', read: '.*' });
  await connect(t, broker, { username: 'bob', password: 'secret' });
  t.pass('bob logged in');
  await t.rejects(amqp.connect({ hostname: '127.0.0.1', port: broker.port, username: 'bob', password: 'Secret' }), /ACCESS_REFUSED/, 'and not with another password');
});

t.test('users, vhosts and permissions survive a restart; a deleted default user stays deleted', async (t) => {
  const dataDir = t.testdir();
  const { startBroker } = await import('../../src/index.js');
  const first = await startBroker({ dataDir, logLevel: 'silent' });
  await first.admin.addUser('dave', 'pw', ['administrator']);
  await first.admin.addVhost('v2');
  await first.admin.setPermissions('dave', 'v2', { configure: '^d', write: '^d', read: '^d' });
  await first.admin.setTopicPermissions('dave', 'v2', 'amq.topic', { write: '^a', read: '^b' });
  const setup = await amqp.connect({ hostname: '127.0.0.1', port: first.port, username: 'dave', password: 'pw', vhost: 'v2' });
  await (await setup.createChannel()).assertQueue('d-queue', { durable: true });
  await setup.close();
  await first.admin.deleteUser('guest');
  await first.close();

  const second = await withBroker(t, { dataDir });
  t.same(second.admin.listVhosts().sort(), ['/', 'v2'], 'vhosts');
  t.same(second.admin.listUsers(), [{ name: 'dave', tags: ['administrator'] }], 'users: guest stays deleted');
  t.same(second.admin.listPermissions(), [{ user: 'dave', vhost: 'v2', configure: '^d', write: '^d', read: '^d' }], 'permissions');
  t.same(second.admin.listTopicPermissions(), [{ user: 'dave', vhost: 'v2', exchange: 'amq.topic', write: '^a', read: '^b' }], 'topic permissions');
  const dave = await connect(t, second, { username: 'dave', password: 'pw', vhost: 'v2' });
  t.equal((await (await dave.createChannel()).checkQueue('d-queue')).queue, 'd-queue', 'the durable queue in v2 is back');
  await t.rejects(amqp.connect({ hostname: '127.0.0.1', port: second.port }), /ACCESS_REFUSED/, 'guest cannot log in');
});
