import t from 'tap';
import { connect, delay, withBroker } from '../support/broker.js';
import { publishUntilBlocked } from '../support/publish-until-blocked.js';

const ONE_GIB = 1024 ** 3;

t.test('a memory alarm blocks publishers with connection.blocked and lets them go when it clears', async (t) => {
  const broker = await withBroker(t);
  const publisher = await connect(t, broker);
  const consumer = await connect(t, broker);
  const pub = await publisher.createChannel();
  const sub = await consumer.createChannel();
  const { queue } = await sub.assertQueue('alarm-q');

  const blocked = new Promise<string>((resolve) => publisher.once('blocked', resolve));
  pub.publish('', queue, Buffer.from('before'));
  await delay(50);
  broker.setMemoryLimit(1);
  t.equal(await blocked, 'low on memory', 'the client is told why');

  pub.publish('', queue, Buffer.from('during'));
  await delay(300);
  t.equal((await sub.checkQueue(queue)).messageCount, 1, 'a publish sent while blocked is not read yet');

  const unblocked = new Promise<void>((resolve) => publisher.once('unblocked', resolve));
  broker.setMemoryLimit(undefined);
  await unblocked;
  await delay(100);
  t.equal((await sub.checkQueue(queue)).messageCount, 2, 'the held publish goes through after the alarm clears');
});

t.test('with paging turned off, a publisher flood ends with the publisher blocked, not the process crashed', async (t) => {
  // A paging ratio above 1 keeps messages in memory up to the alarm (paging.test.ts has the flood that pages).
  const broker = await withBroker(t, { memoryPagingRatio: 2 });
  broker.setMemoryLimit(process.memoryUsage().rss + 256 * 1024 * 1024);
  const publisher = await connect(t, broker);
  const ch = await publisher.createConfirmChannel();
  await ch.assertQueue('flood');
  // Bounded: at most 1 GiB of bodies, far past the limit set above.
  const body = Buffer.alloc(64 * 1024, 1);
  const flood = await publishUntilBlocked(publisher, ch, 'flood', body, {}, { max: ONE_GIB / body.length });
  t.ok(flood.sent < ONE_GIB / body.length, 'the broker sent connection.blocked before a GiB was published');
  const purge = await connect(t, broker);
  const admin = await purge.createChannel();
  t.ok((await admin.checkQueue('flood')).messageCount > 0, 'the broker still answers other connections');
  await admin.deleteQueue('flood');
  // A blocked connection is not read, so it could not even close: lift the alarm first.
  broker.setMemoryLimit(Number.MAX_SAFE_INTEGER);
});
