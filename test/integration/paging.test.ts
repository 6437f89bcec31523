import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { BrokerOptions } from '../../src/index.js';
import { collect, connect, eventually, within, withBroker } from '../support/broker.js';
import { bodies, drain, readyCount } from '../support/messages.js';
import { publishUntilBlocked } from '../support/publish-until-blocked.js';
import { mountTmpfs } from '../support/tmpfs.js';

const MIB = 1024 * 1024;

/**
 * Memory over the paging threshold from the first check on, far under the
 * alarm: every waiting message is paged out, and no publisher is ever blocked.
 */
const ALWAYS_PAGING: BrokerOptions = { memoryLimit: 2 ** 40, memoryPagingRatio: 1e-9 };

/** Bytes in the broker's paging directory (0 when it does not exist). */
function pagedBytes(dataDir: string): number {
  const dir = join(dataDir, 'paging');
  if (!existsSync(dir)) return 0;
  return readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

const numbered = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => `m${from + i}`);

t.test('over the paging threshold, transient messages of a queue wait on disk and come back in order', async (t) => {
  const broker = await withBroker(t, ALWAYS_PAGING);
  const ch = await (await connect(t, broker)).createConfirmChannel();
  await ch.assertQueue('paged', { durable: false });
  const body = Buffer.alloc(1024, 'x');
  for (const name of numbered(1, 3000)) ch.sendToQueue('paged', Buffer.concat([Buffer.from(`${name}:`), body]));
  await ch.waitForConfirms();
  await eventually(() => pagedBytes(broker.config.dataDir) > 3000 * 1024, 5000, 'the bodies written to the paging directory');
  t.equal(await readyCount(ch, 'paged'), 3000, 'all 3000 wait in the queue');
  t.same(broker.alarms.raised, [], 'no alarm: paging is what keeps it away');

  const got = await drain(ch, 'paged');
  t.same(
    got.map((m) => m.content.toString().split(':')[0]),
    numbered(1, 3000),
    'every message comes back, in publish order',
  );
  t.ok(got.every((m) => m.content.subarray(-1024).equals(body)), 'with its body intact');
});

t.test('paged messages keep their properties, routing and redelivered flag', async (t) => {
  const broker = await withBroker(t, ALWAYS_PAGING);
  const ch = await (await connect(t, broker)).createConfirmChannel();
  await ch.assertExchange('paging-x', 'topic', { durable: false });
  await ch.assertQueue('props', { durable: false });
  await ch.bindQueue('props', 'paging-x', 'a.#');
  ch.publish('paging-x', 'a.b.c', Buffer.from('one'), { headers: { h: 'v' }, contentType: 'text/plain', correlationId: 'c1', priority: 3 });
  await ch.waitForConfirms();
  const [m] = await collect(ch, 'props', 1, { noAck: false });
  t.match(m!.fields, { exchange: 'paging-x', routingKey: 'a.b.c', redelivered: false }, 'exchange and routing key as published');
  t.match(m!.properties, { headers: { h: 'v' }, contentType: 'text/plain', correlationId: 'c1', priority: 3 }, 'properties as published');
  await ch.cancel(m!.fields.consumerTag);
  ch.nack(m!, false, true);
  const again = await drain(ch, 'props');
  t.same(bodies(again), ['oner'], 'a requeued message comes back marked redelivered');
});

t.test('a durable queue mixing persistent and transient messages keeps one order while paged', async (t) => {
  const broker = await withBroker(t, ALWAYS_PAGING);
  const ch = await (await connect(t, broker)).createConfirmChannel();
  await ch.assertQueue('mixed', { durable: true });
  for (const [i, name] of numbered(1, 400).entries()) ch.sendToQueue('mixed', Buffer.from(name), { persistent: i % 3 === 0 });
  await ch.waitForConfirms();
  t.same(bodies(await drain(ch, 'mixed')), numbered(1, 400), 'journaled and page-file messages interleave as published');
});

t.test('a priority queue pages every level and still delivers the highest first', async (t) => {
  const broker = await withBroker(t, ALWAYS_PAGING);
  const ch = await (await connect(t, broker)).createConfirmChannel();
  await ch.assertQueue('prio', { durable: false, maxPriority: 5 });
  for (let i = 0; i < 60; i++) ch.sendToQueue('prio', Buffer.from(`p${i % 3}-${i}`), { priority: i % 3 });
  await ch.waitForConfirms();
  const got = bodies(await drain(ch, 'prio'));
  const expected = [2, 1, 0].flatMap((p) => Array.from({ length: 20 }, (_, k) => `p${p}-${k * 3 + p}`));
  t.same(got, expected, 'highest priority first, publish order within each');
});

t.test('paged messages expire and are dead-lettered; a purge and a delete let go of the rest', async (t) => {
  const broker = await withBroker(t, ALWAYS_PAGING);
  const ch = await (await connect(t, broker)).createConfirmChannel();
  await ch.assertQueue('dead', { durable: false });
  await ch.assertQueue('ttl', { durable: false, deadLetterExchange: '', deadLetterRoutingKey: 'dead' });
  for (const name of numbered(1, 10)) ch.sendToQueue('ttl', Buffer.from(name), { expiration: name === 'm5' ? '1' : '600000' });
  await ch.waitForConfirms();
  await eventually(async () => (await readyCount(ch, 'dead')) === 1, 5000, 'the short-lived message dead-lettered');
  t.same(bodies(await drain(ch, 'dead')), ['m5'], 'read back from the page file to be dead-lettered');

  t.equal((await ch.purgeQueue('ttl')).messageCount, 9, 'purge counts the paged messages');
  for (const name of numbered(11, 20)) ch.sendToQueue('ttl', Buffer.from(name));
  await ch.waitForConfirms();
  t.same(bodies(await drain(ch, 'ttl')), numbered(11, 20), 'the queue pages on after a purge');
  for (const name of numbered(21, 30)) ch.sendToQueue('ttl', Buffer.from(name));
  await ch.waitForConfirms();
  t.equal((await ch.deleteQueue('ttl')).messageCount, 10, 'delete counts the paged messages');
});

t.test('below the paging threshold nothing is written to disk', async (t) => {
  const broker = await withBroker(t, { memoryLimit: 2 ** 40 });
  const ch = await (await connect(t, broker)).createConfirmChannel();
  await ch.assertQueue('in-memory', { durable: false });
  for (const name of numbered(1, 1000)) ch.sendToQueue('in-memory', Buffer.from(name));
  await ch.waitForConfirms();
  t.equal(pagedBytes(broker.config.dataDir), 0, 'no paging directory');
  t.same(bodies(await drain(ch, 'in-memory')), numbered(1, 1000), 'all delivered');
});

t.test('what an earlier run paged out is deleted at start: it was never promised to outlive the process', async (t) => {
  const dataDir = t.testdir();
  mkdirSync(join(dataDir, 'paging'));
  writeFileSync(join(dataDir, 'paging', '0.page'), Buffer.alloc(4096));
  await withBroker(t, { dataDir });
  t.notOk(existsSync(join(dataDir, 'paging')), 'the leftover paging directory is gone');
});

t.test('a disk too full to page on keeps the messages in memory, and loses none', async (t) => {
  const tmpfs = mountTmpfs(t, 8);
  if ('cannot' in tmpfs) return t.plan(0, tmpfs.cannot);
  // No disk alarm, so that the page file, not the alarm, meets the full disk.
  const broker = await withBroker(t, { ...ALWAYS_PAGING, dataDir: join(tmpfs.dir, 'data'), diskFreeLimit: 0 });
  const ch = await (await connect(t, broker)).createConfirmChannel();
  await ch.assertQueue('full', { durable: false });
  const body = Buffer.alloc(64 * 1024, 'y');
  // 16 MiB of bodies into 8 MiB of disk.
  for (let i = 0; i < 256; i++) ch.sendToQueue('full', Buffer.concat([Buffer.from(`${i}:`), body]));
  await ch.waitForConfirms();
  const paged = pagedBytes(broker.config.dataDir);
  t.ok(paged > 0 && paged < 8 * MIB, `the disk took part of them (${paged} bytes), not all`);
  const got = await drain(ch, 'full');
  t.same(
    got.map((m) => Number(m.content.toString('utf8', 0, 8).split(':')[0])),
    Array.from({ length: 256 }, (_, i) => i),
    'all 256 delivered in order, those the disk took and those it did not',
  );
});

t.test('a transient flood pages until the disk is short, then blocks the publisher; draining frees the space and unblocks it', async (t) => {
  const tmpfs = mountTmpfs(t, 96);
  if ('cannot' in tmpfs) return t.plan(0, tmpfs.cannot);
  const broker = await withBroker(t, { ...ALWAYS_PAGING, dataDir: join(tmpfs.dir, 'data'), diskFreeLimit: 48 * MIB });
  const publisher = await connect(t, broker);
  // Runs before the connections close: a blocked connection is not read, so it could not close.
  t.teardown(() => broker.setDiskFreeLimit(0));
  const pub = await publisher.createConfirmChannel();
  await pub.assertQueue('flood', { durable: false });
  const body = Buffer.alloc(64 * 1024, 'z');
  // Bounded at 256 MiB of bodies, far past the 48 MiB the disk can take before the alarm.
  const flood = await within(publishUntilBlocked(publisher, pub, 'flood', body, {}, { max: (256 * MIB) / body.length, window: 64 }), 30_000, 'flood');
  t.ok(flood.sent < (256 * MIB) / body.length, `the publisher was blocked after ${flood.sent} messages`);
  t.same(broker.alarms.raised, ['disk'], 'by the disk alarm, not the memory one');
  t.ok(pagedBytes(broker.config.dataDir) > 16 * MIB, 'the messages before it went to disk');

  const unblocked = new Promise((resolve) => publisher.once('unblocked', resolve));
  const sub = await (await connect(t, broker)).createChannel();
  const delivered = new Set<string>();
  await sub.consume('flood', (m) => m && delivered.add(String(m.properties.messageId)), { noAck: true });
  const confirmed = [...flood.confirmed];
  await eventually(() => confirmed.every((n) => delivered.has(String(n))), 20_000, 'every confirmed message delivered');
  t.pass(`all ${confirmed.length} confirmed messages were delivered`);
  await within(unblocked, 10_000, 'connection.unblocked');
  t.ok(pagedBytes(broker.config.dataDir) <= MIB, 'the drained page file gave its space back, and the alarm cleared');
});
