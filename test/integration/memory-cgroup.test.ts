import { readFileSync } from 'node:fs';
import * as amqp from 'amqplib';
import t from 'tap';
import { delay, eventually, within } from '../support/broker.js';
import { startCli } from '../support/cli-process.js';
import { createMemoryCgroup } from '../support/memory-cgroup.js';
import { publishUntilBlocked } from '../support/publish-until-blocked.js';

const GIB = 1024 ** 3;
const FLOOD_MS = 15_000;

// A 15 s flood and the drain of some 300 MB after it: more than the default minute when the suite runs in parallel.
t.setTimeout(120_000);

/** Resident set size of a process, from /proc. */
function rssOf(pid: number): number {
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kib) * 1024;
}

t.test('in a 1 GiB cgroup the broker takes 0.4 of the cgroup limit and blocks a flood before the OOM killer ends it', async (t) => {
  const cgroup = createMemoryCgroup(t, GIB);
  if ('cannot' in cgroup) return t.plan(0, cgroup.cannot);
  const broker = await startCli(t, ['--port', '0', '--host', '127.0.0.1', '--data-dir', t.testdir()], cgroup.launcher);
  const pid = broker.child.pid!;
  const limitLine = broker.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['msg'] === 'memory limit set');
  t.match(limitLine, { limit: Math.floor(0.4 * GIB), relative: 0.4, available: GIB, source: `cgroup ${cgroup.version}` }, 'the limit is 0.4 of the cgroup limit, logged at start');

  // Rejects if the broker exits while the test waits on it (an OOM kill shows here, with its signal).
  const died = new Promise<never>((_, reject) => broker.child.once('exit', (code, signal) => reject(new Error(`the broker exited (${signal ?? `code ${code}`})`))));
  died.catch(() => {});
  let maxRss = 0;
  const sampler = setInterval(() => {
    if (broker.child.exitCode === null && broker.child.signalCode === null) maxRss = Math.max(maxRss, rssOf(pid));
  }, 100);
  t.teardown(() => clearInterval(sampler));
  const url = `amqp://guest:guest@127.0.0.1:${broker.port}`;
  const publisher = await amqp.connect(url);
  publisher.on('error', () => {});
  const ch = await publisher.createConfirmChannel();
  await ch.assertQueue('flood');
  const started = Date.now();
  // Bounded at 1 GiB of bodies: only the alarm or the OOM killer can end it sooner.
  const body = Buffer.alloc(4096, 1);
  const flood = await within(Promise.race([publishUntilBlocked(publisher, ch, 'flood', body, {}, { max: GIB / body.length }), died]), 60_000, 'flood');
  t.ok(flood.sent < GIB / body.length, `the publisher was blocked after ${flood.sent} messages (${Date.now() - started} ms)`);
  // The publisher stays blocked, its data unread, for the rest of the run; the broker must stay up through it.
  await Promise.race([delay(started + FLOOD_MS - Date.now()), died]);
  t.equal(broker.child.exitCode, null, 'the broker is still running');
  t.ok(maxRss < GIB, `its RSS stayed under the cgroup limit (at most ${(maxRss / 2 ** 20).toFixed(0)} MiB)`);

  // Only what was confirmed by now is owed: the publisher may stay blocked, since freed memory
  // mostly stays resident (the allocator keeps it) and RSS need not fall below the clearing point.
  const confirmed = [...flood.confirmed];
  const consumer = await amqp.connect(url);
  consumer.on('error', () => {});
  const sub = await consumer.createChannel();
  const delivered = new Set<string>();
  await sub.consume('flood', (m) => m && delivered.add(String(m.properties.messageId)), { noAck: true });
  await Promise.race([eventually(() => confirmed.every((n) => delivered.has(String(n))), 30_000, 'every confirmed message delivered'), died]);
  t.pass(`all ${confirmed.length} confirmed messages were delivered`);
  await consumer.close();

  // The publisher may still be blocked, so unable to close: the broker closes it on SIGTERM.
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => broker.child.once('exit', (code, signal) => resolve([code, signal])));
  broker.child.kill('SIGTERM');
  t.same(await within(exited, 10_000, 'exit after SIGTERM'), [0, null], 'it exits cleanly on SIGTERM, not killed');
});
