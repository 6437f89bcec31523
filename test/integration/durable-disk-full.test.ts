import { join } from 'node:path';
import * as amqp from 'amqplib';
import t, { type Test } from 'tap';
import { type Broker, startBroker } from '../../src/index.js';
import { connectionClosed, eventually, queueExists, within } from '../support/broker.js';
import { fillDisk, mountTmpfs } from '../support/tmpfs.js';

// A disk that fills up under the journal, with the disk alarm out of the way
// (limit 0) so that writes really fail: what could not be stored is nacked or
// refused with 541, nothing of a refused declare stays behind, consumers go
// on, and once space returns everything works and survives a restart.

async function connect(t: Test, broker: Broker): Promise<amqp.ChannelModel> {
  const c = await amqp.connect(broker.url);
  c.on('error', () => {});
  t.teardown(() => c.close().catch(() => {}));
  return c;
}

t.test('a full disk: a durable declare is refused and leaves nothing; publishes are nacked; consumers go on; all is well once space returns', async (t) => {
  const tmpfs = mountTmpfs(t, 16);
  if ('cannot' in tmpfs) return t.plan(0, tmpfs.cannot);
  const dataDir = join(tmpfs.dir, 'data');
  const boot = (): Promise<Broker> => startBroker({ dataDir, logLevel: 'silent', diskFreeLimit: 0 });
  let broker = await boot();
  const before = await (await connect(t, broker)).createConfirmChannel();
  await before.assertQueue('stored', { durable: true });
  for (let i = 0; i < 10; i++) before.sendToQueue('stored', Buffer.from(`m${i}`), { persistent: true });
  await before.waitForConfirms();

  const freeSpace = fillDisk(tmpfs.dir);
  // The journal's last page may still have room: publish until a write needs a new one and fails.
  let nacked = 0;
  for (let i = 0; i < 200 && nacked === 0; i++) {
    const ok = await new Promise<boolean>((resolve) => before.sendToQueue('stored', Buffer.alloc(1024, 'f'), { persistent: true }, (err) => resolve(!err)));
    if (!ok) nacked++;
  }
  t.equal(nacked, 1, 'a persistent publish that could not be stored is nacked');
  const declarer = await connect(t, broker);
  const closed = connectionClosed(declarer);
  const refused = await (await declarer.createChannel()).assertQueue('never', { durable: true }).then(
    () => undefined,
    (err: Error) => err,
  );
  t.ok(refused !== undefined, 'the durable declare is refused');
  t.match(String(await within(closed, 5000, 'the connection closes')), /541.*no space left on device/i, 'with 541 and the reason');
  const observer = await connect(t, broker);
  t.notOk(await queueExists(observer, 'never'), 'nothing of the refused queue stays in memory');

  const reader = await observer.createChannel();
  const first = await reader.get('stored', { noAck: true });
  t.equal(first && first.content.toString(), 'm0', 'a consumer still reads what is stored');
  t.equal(broker.port > 0 && (await Promise.race([broker.failed.then(() => 'failed'), new Promise((r) => setTimeout(() => r('up'), 200))])), 'up', 'the broker keeps serving');

  freeSpace();
  const after = await (await connect(t, broker)).createConfirmChannel();
  await eventually(
    () => after.assertQueue('never', { durable: true }).then(() => true, () => false),
    10_000,
    'the declare goes through once space returns',
  );
  for (let i = 0; i < 100; i++) after.sendToQueue('never', Buffer.from(`n${i}`), { persistent: true });
  await after.waitForConfirms();
  await broker.close();

  broker = await boot();
  t.teardown(() => broker.close());
  const ch = await (await connect(t, broker)).createChannel();
  t.equal((await ch.checkQueue('never')).messageCount, 100, 'after a restart the queue and its 100 confirmed messages are there');
  t.ok((await ch.checkQueue('stored')).messageCount >= 9, 'and what was stored before the disk filled');
});
