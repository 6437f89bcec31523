import t from 'tap';
import { connect, withBroker } from '../support/broker.js';

t.test('memory and disk alarms block publishers as one: blocked when the first is raised, unblocked when the last clears', async (t) => {
  const broker = await withBroker(t);
  // A connection that never publishes is never paused, so a round trip on it shows every notification sent before.
  const watcher = await connect(t, broker);
  const ch = await watcher.createChannel();
  await ch.assertQueue('alarms-q');
  const seen: string[] = [];
  watcher.on('blocked', (reason: string) => seen.push(`blocked: ${reason}`));
  watcher.on('unblocked', () => seen.push('unblocked'));
  const settled = async (): Promise<string[]> => {
    await ch.checkQueue('alarms-q');
    return [...seen];
  };

  broker.setDiskFreeLimit(Number.MAX_SAFE_INTEGER);
  t.same(await settled(), ['blocked: low on disk'], 'a disk free limit above the free space raises the disk alarm');
  t.same(broker.alarms.raised, ['disk']);

  broker.setMemoryLimit(1);
  t.same(await settled(), ['blocked: low on disk'], 'a second alarm sends nothing more');
  t.same(broker.alarms.raised, ['memory', 'disk']);
  t.equal(broker.alarms.reason, 'low on memory & low on disk', "a connection opened now would be told both, in RabbitMQ's words");

  broker.setDiskFreeLimit(0);
  t.same(await settled(), ['blocked: low on disk'], 'clearing one alarm while the other holds unblocks nothing');
  t.same(broker.alarms.raised, ['memory']);

  broker.setMemoryLimit(undefined);
  t.same(await settled(), ['blocked: low on disk', 'unblocked'], 'clearing the last one unblocks');
  t.same(broker.alarms.raised, []);
  t.notOk(broker.alarms.active);
});
