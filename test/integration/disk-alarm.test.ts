import { statfsSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as amqp from 'amqplib';
import t from 'tap';
import { connect, delay, eventually, within, withBroker } from '../support/broker.js';
import { publishUntilBlocked } from '../support/publish-until-blocked.js';
import { mountTmpfs } from '../support/tmpfs.js';

const MIB = 1024 * 1024;

function freeBytes(dir: string): number {
  const { bavail, bsize } = statfsSync(dir);
  return bavail * bsize;
}

function nextEvent(connection: amqp.ChannelModel, event: 'blocked' | 'unblocked'): Promise<string | undefined> {
  return new Promise((resolve) => connection.once(event, resolve));
}

/** Consumes `queue` without acks, collecting the bodies. */
async function drain(channel: amqp.Channel, queue: string): Promise<string[]> {
  const bodies: string[] = [];
  await channel.consume(queue, (m) => m && bodies.push(m.content.toString()), { noAck: true });
  return bodies;
}

t.test('free disk space below the limit blocks publishers; consumers drain; it clears when space returns', async (t) => {
  const tmpfs = mountTmpfs(t, 64);
  if ('cannot' in tmpfs) return t.plan(0, tmpfs.cannot);
  const broker = await withBroker(t, { dataDir: join(tmpfs.dir, 'data'), diskFreeLimit: 32 * MIB });
  const publisher = await connect(t, broker);
  const consumer = await connect(t, broker);
  // Runs before the connections close: a blocked connection is not read, so it could not close.
  t.teardown(() => broker.setDiskFreeLimit(0));
  const pub = await publisher.createConfirmChannel();
  const sub = await consumer.createChannel();
  await sub.assertQueue('disk-q');
  t.same(broker.alarms.raised, [], 'no alarm with 64 MiB free');

  for (let i = 0; i < 20; i++) pub.sendToQueue('disk-q', Buffer.from(`before ${i}`));
  await pub.waitForConfirms();

  const ballast = join(tmpfs.dir, 'ballast');
  const blocked = nextEvent(publisher, 'blocked');
  writeFileSync(ballast, Buffer.alloc(40 * MIB));
  t.ok(freeBytes(tmpfs.dir) < 32 * MIB, 'the ballast leaves less than the limit free');
  t.equal(await within(blocked, 5000, 'connection.blocked'), 'low on disk', 'the publisher is told why');
  t.same(broker.alarms.raised, ['disk'], 'broker.alarms names the disk alarm');

  pub.sendToQueue('disk-q', Buffer.from('during'));
  const bodies = await drain(sub, 'disk-q');
  await eventually(() => bodies.length === 20, 5000, 'the consumer drains what was published before the alarm');
  // What is not read can only be seen over a while: the held publish stays out for half a second.
  await delay(500);
  t.notOk(bodies.includes('during'), 'a publish sent while blocked is not read');

  const unblocked = nextEvent(publisher, 'unblocked');
  unlinkSync(ballast);
  await within(unblocked, 5000, 'connection.unblocked');
  t.same(broker.alarms.raised, [], 'the alarm clears by itself when space returns');
  await within(pub.waitForConfirms(), 5000, 'the held publish is confirmed');
  await eventually(() => bodies.includes('during'), 5000, 'the held publish is delivered');
  t.equal(bodies.length, 21, 'everything published is delivered once');
});

t.test('persistent messages filling the disk block publishers before the journal runs out of space; nothing confirmed is lost', async (t) => {
  const tmpfs = mountTmpfs(t, 64);
  if ('cannot' in tmpfs) return t.plan(0, tmpfs.cannot);
  const ballast = join(tmpfs.dir, 'ballast');
  writeFileSync(ballast, Buffer.alloc(16 * MIB));
  const limit = 16 * MIB;
  const broker = await withBroker(t, { dataDir: join(tmpfs.dir, 'data'), diskFreeLimit: limit, segmentSize: 4 * MIB });
  const publisher = await connect(t, broker);
  t.teardown(() => broker.setDiskFreeLimit(0));
  const pub = await publisher.createConfirmChannel();
  await pub.assertQueue('journal-q', { durable: true });

  // At most 64 MiB of bodies: more than the file system holds, so only the alarm can end the flood.
  // At most 1 MiB unconfirmed: the alarm stops reading, but what the broker has read and not yet
  // written still goes to disk, and nothing yet bounds that backlog but the publisher's window.
  const body = Buffer.alloc(16 * 1024, 7);
  const max = (64 * MIB) / body.length;
  const flood = await within(publishUntilBlocked(publisher, pub, 'journal-q', body, { persistent: true }, { max, window: 64 }), 30_000, 'flood');
  t.ok(flood.sent < max, `blocked after ${flood.sent} messages`);
  t.same(broker.alarms.raised, ['disk'], 'by the disk alarm');
  t.ok(freeBytes(tmpfs.dir) > 0, `the journal stopped short of filling the disk (${freeBytes(tmpfs.dir)} bytes free)`);

  const other = await connect(t, broker);
  const admin = await other.createChannel();
  t.ok((await admin.checkQueue('journal-q')).messageCount > 0, 'the broker still serves: its journal did not fail');

  const unblocked = nextEvent(publisher, 'unblocked');
  unlinkSync(ballast);
  await within(unblocked, 5000, 'connection.unblocked');
  t.same(broker.alarms.raised, [], 'freeing space clears the alarm');
  for (let i = 0; i < 10; i++) pub.sendToQueue('journal-q', body, { persistent: true, messageId: `after ${i}` });
  await within(pub.waitForConfirms(), 10_000, 'every publish confirmed once unblocked');
  t.equal(flood.confirmed.size, flood.sent, 'every message of the flood was confirmed');

  const ids = new Set<string>();
  await admin.consume('journal-q', (m) => m && ids.add(String(m.properties.messageId)), { noAck: true });
  await eventually(() => ids.size === flood.sent + 10, 10_000, 'every message delivered');
  const lost = [...flood.confirmed].filter((n) => !ids.has(String(n)));
  t.same(lost, [], 'no confirmed message is missing');
});
