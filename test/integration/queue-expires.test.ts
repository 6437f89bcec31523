import t from 'tap';
import { brokerChannel, connect, delay, queueExists } from '../support/broker.js';
import { restartableBroker } from '../support/data-dir.js';
import { readyCount } from '../support/messages.js';

// x-expires: a queue nobody uses for that long is deleted. Using it means a
// consumer on it, a basic.get, or declaring it again (passive or not); each
// starts the idle time again. Checking that a queue exists is a passive
// declare, so the tests look only once the idle time is well past.

const EXPIRES = 1000;
/** How often a test renews the queue: well within EXPIRES, even on a busy machine. */
const RENEW_EVERY = 250;
// Each test has a broker of its own and mostly waits: they run side by side.
t.jobs = 6;

t.test('an unused queue is deleted once its expiry time passes, with its messages, which are not dead-lettered', async (t) => {
  const { connection, channel: ch } = await brokerChannel(t);
  await ch.assertQueue('dlq');
  await ch.assertQueue('q', { arguments: { 'x-expires': EXPIRES, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dlq' } });
  ch.sendToQueue('q', Buffer.from('lost'));
  await delay(EXPIRES * 3);
  t.notOk(await queueExists(connection, 'q'), 'deleted');
  t.equal(await readyCount(ch, 'dlq'), 0, 'its messages were not dead-lettered');
  await ch.assertQueue('q', { arguments: { 'x-expires': EXPIRES } });
  t.equal(await readyCount(ch, 'q'), 0, 'declared again, it starts empty');
});

t.test('declaring the queue again, passively or not, starts the idle time again', async (t) => {
  const { connection, channel: ch } = await brokerChannel(t);
  await ch.assertQueue('q', { arguments: { 'x-expires': EXPIRES } });
  for (let i = 0; i < 8; i++) {
    await delay(RENEW_EVERY);
    if (i % 2 === 0) await ch.checkQueue('q');
    else await ch.assertQueue('q', { arguments: { 'x-expires': EXPIRES } });
  }
  t.ok(await queueExists(connection, 'q'), 'alive after twice its expiry time');
  await delay(EXPIRES * 3);
  t.notOk(await queueExists(connection, 'q'), 'deleted once left alone');
});

t.test('basic.get starts the idle time again', async (t) => {
  const { connection, channel: ch } = await brokerChannel(t);
  await ch.assertQueue('q', { arguments: { 'x-expires': EXPIRES } });
  for (let i = 0; i < 8; i++) {
    await delay(RENEW_EVERY);
    await ch.get('q');
  }
  t.ok(await queueExists(connection, 'q'), 'alive after twice its expiry time');
});

t.test('a queue with a consumer does not expire; it expires once the last consumer leaves', async (t) => {
  const { connection, channel: ch } = await brokerChannel(t);
  await ch.assertQueue('q', { arguments: { 'x-expires': EXPIRES } });
  const { consumerTag } = await ch.consume('q', () => {});
  await delay(EXPIRES * 2);
  t.ok(await queueExists(connection, 'q'), 'alive while consumed');
  await ch.cancel(consumerTag);
  await delay(EXPIRES * 3);
  t.notOk(await queueExists(connection, 'q'), 'deleted after the consumer left');
});

t.test('a consumer that goes with its connection leaves the queue unused', async (t) => {
  const { broker, connection } = await brokerChannel(t);
  const other = await connect(t, broker);
  const ch = await other.createChannel();
  await ch.assertQueue('q', { arguments: { 'x-expires': EXPIRES } });
  await ch.consume('q', () => {});
  await other.close();
  await delay(EXPIRES * 3);
  t.notOk(await queueExists(connection, 'q'), 'deleted after its consumer disconnected');
});

t.test('a durable queue with x-expires comes back after a restart and expires from then', async (t) => {
  const b = await restartableBroker(t);
  const ch = await (await connect(t, b.broker)).createChannel();
  await ch.assertQueue('q', { durable: true, arguments: { 'x-expires': EXPIRES } });
  await b.restart();
  const connection = await connect(t, b.broker);
  t.ok(await queueExists(connection, 'q'), 'recovered');
  await delay(EXPIRES * 3);
  t.notOk(await queueExists(connection, 'q'), 'deleted once unused after the restart');
  await b.restart();
  t.notOk(await queueExists(await connect(t, b.broker), 'q'), 'and gone for good');
});
