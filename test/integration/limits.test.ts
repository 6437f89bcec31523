import * as amqp from 'amqplib';
import t from 'tap';
import { connect, withBroker } from '../support/broker.js';

// Each refusal's words were first seen on RabbitMQ 3.10.8 with the same limits.

const guestIn = (port: number, vhost: string) => amqp.connect({ hostname: '127.0.0.1', port, username: 'guest', password: 'guest', vhost });

t.test('vhost limits: max-connections refuses connection.open past it; max-queues refuses a new queue', async (t) => {
  const broker = await withBroker(t);
  await broker.admin.addVhost('lim');
  await broker.admin.setPermissions('guest', 'lim', { configure: '.*', write: '.*', read: '.*' });
  await broker.admin.setVhostLimits('lim', { 'max-connections': 1, 'max-queues': 1 });
  const first = await connect(t, broker, { vhost: 'lim' });
  await t.rejects(guestIn(broker.port, 'lim'), 'a second connection to the vhost is refused');
  await connect(t, broker, { vhost: '/' });
  t.pass('another vhost is not limited');

  const ch = await first.createChannel();
  await ch.assertQueue('q1', { durable: false });
  const closed = new Promise<Error>((resolve) => ch.once('error', resolve));
  await t.rejects(ch.assertQueue('q2', { durable: false }), /406 \(PRECONDITION-FAILED\) with message "PRECONDITION_FAILED - cannot declare queue 'q2': queue limit in vhost 'lim' \(1\) is reached"/);
  await closed;
  const again = await first.createChannel();
  t.equal((await again.assertQueue('q1', { durable: false })).queue, 'q1', 'declaring the existing queue again is fine');

  await broker.admin.setVhostLimits('lim', { 'max-connections': -1 });
  const second = await guestIn(broker.port, 'lim');
  await second.close();
  t.pass('a negative limit is no limit');
  t.same(broker.admin.listVhostLimits(), [], 'and none is listed');
});

t.test('user limits: max-channels closes the connection that opens one too many; max-connections refuses one too many', async (t) => {
  const broker = await withBroker(t);
  await broker.admin.addUser('lu', 'pw');
  await broker.admin.setPermissions('lu', '/', { configure: '.*', write: '.*', read: '.*' });
  await broker.admin.setUserLimits('lu', { 'max-connections': 1, 'max-channels': 1 });
  const lu = await connect(t, broker, { username: 'lu', password: 'pw' });
  await lu.createChannel();
  const closed = new Promise<Error>((resolve) => lu.once('close', resolve));
  lu.createChannel().catch(() => {});
  t.match((await closed).message, /530 \(NOT-ALLOWED\) with message "NOT_ALLOWED - number of channels opened for user 'lu' has reached the maximum allowed user limit of \(1\)"/);

  const only = await connect(t, broker, { username: 'lu', password: 'pw' });
  await t.rejects(amqp.connect({ hostname: '127.0.0.1', port: broker.port, username: 'lu', password: 'pw' }), 'a second connection of the user is refused');
  await only.close();
  await broker.admin.clearUserLimits('lu', 'max-connections');
  t.same(broker.admin.listUserLimits(), [{ user: 'lu', limits: { 'max-channels': 1 } }], 'the other limit stays');
  const a = await connect(t, broker, { username: 'lu', password: 'pw' });
  const b = await connect(t, broker, { username: 'lu', password: 'pw' });
  t.ok(a && b, 'two connections once max-connections is cleared');
});

t.test('the node refuses connections past --max-connections before any AMQP', async (t) => {
  const broker = await withBroker(t, { maxConnections: 2 });
  await connect(t, broker);
  await connect(t, broker);
  await t.rejects(amqp.connect(broker.url), 'the third is refused');
});

t.test('limits survive a restart', async (t) => {
  const dataDir = t.testdir();
  const { startBroker } = await import('../../src/index.js');
  const first = await startBroker({ dataDir, logLevel: 'silent' });
  await first.admin.setVhostLimits('/', { 'max-queues': 10 });
  await first.admin.setUserLimits('guest', { 'max-channels': 5 });
  await first.close();
  const second = await withBroker(t, { dataDir });
  t.same(second.admin.listVhostLimits(), [{ vhost: '/', limits: { 'max-queues': 10 } }]);
  t.same(second.admin.listUserLimits(), [{ user: 'guest', limits: { 'max-channels': 5 } }]);
});
