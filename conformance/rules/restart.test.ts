import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as amqp from 'amqplib';
import t, { type Test } from 'tap';
import { collect } from '../../test/support/broker.js';
import { type Broker, startBroker } from '../../src/index.js';

// Rules about what survives a broker restart. A test cannot restart the broker at
// AMQP_URL, so these always run on an embedded broker of their own, stopped and
// started again on the same data directory.

async function restartable(t: Test): Promise<{ start: () => Promise<Broker>; connect: (b: Broker) => Promise<amqp.Channel> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'rules-restart-'));
  const brokers: Broker[] = [];
  const connections: amqp.ChannelModel[] = [];
  t.teardown(async () => {
    for (const c of connections) await c.close().catch(() => {});
    for (const b of brokers) await b.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return {
    start: async () => {
      for (const c of connections.splice(0)) await c.close().catch(() => {});
      for (const b of brokers.splice(0)) await b.close();
      const broker = await startBroker({ dataDir, logLevel: 'silent' });
      brokers.push(broker);
      return broker;
    },
    connect: async (broker) => {
      const connection = await amqp.connect(broker.url);
      connection.on('error', () => {});
      connections.push(connection);
      const channel = await connection.createChannel();
      channel.on('error', () => {});
      return channel;
    },
  };
}

t.test('[queue.declare.durable/persistence] a durable queue exists again after a restart and takes messages', async (t) => {
  const { start, connect } = await restartable(t);
  const before = await connect(await start());
  await before.assertQueue('kept', { durable: true });
  await before.assertQueue('gone', { durable: false });
  const after = await connect(await start());
  await after.checkQueue('kept');
  t.pass('the durable queue is back');
  const got = collect(after, 'kept', 1);
  after.sendToQueue('kept', Buffer.from('after restart'));
  t.equal((await got)[0]?.content.toString(), 'after restart', 'and delivers');
  const err = await after.checkQueue('gone').then(
    () => undefined,
    (e: { code?: number }) => e,
  );
  t.equal(err?.code, 404, 'the transient queue is not');
});

t.test('[queue.bind/durable-exchange] [exchange.declare.durable/support] a durable queue\'s binding to a durable exchange survives a restart; a transient exchange does not', async (t) => {
  const { start, connect } = await restartable(t);
  const before = await connect(await start());
  await before.assertExchange('durable-x', 'topic', { durable: true });
  await before.assertExchange('transient-x', 'topic', { durable: false });
  await before.assertQueue('bound', { durable: true });
  await before.bindQueue('bound', 'durable-x', 'a.#');
  const after = await connect(await start());
  const got = collect(after, 'bound', 1);
  after.publish('durable-x', 'a.b', Buffer.from('routed'));
  t.equal((await got)[0]?.content.toString(), 'routed', 'the binding routes after the restart');
  const err = await after.checkExchange('transient-x').then(
    () => undefined,
    (e: { code?: number }) => e,
  );
  t.equal(err?.code, 404, 'the transient exchange is gone');
});

t.test('[basic/01] persistent messages in a durable queue survive a restart; transient ones do not', async (t) => {
  const { start, connect } = await restartable(t);
  const broker = await start();
  const connection = await amqp.connect(broker.url);
  const confirm = await connection.createConfirmChannel();
  await confirm.assertQueue('store', { durable: true });
  for (let i = 0; i < 10; i++) confirm.sendToQueue('store', Buffer.from(`p${i}`), { persistent: i % 2 === 0 });
  await confirm.waitForConfirms();
  await connection.close();
  const after = await connect(await start());
  t.equal((await after.checkQueue('store')).messageCount, 5, 'five persistent messages came back');
  const got = await collect(after, 'store', 5);
  t.same(
    got.map((m) => m.content.toString()),
    ['p0', 'p2', 'p4', 'p6', 'p8'],
    'in their order',
  );
});
