import { readFileSync } from 'node:fs';
import * as amqp from 'amqplib';
import t from 'tap';
import { delay, eventually } from '../support/broker.js';
import { runCtlWithin, shortDataDir } from '../support/cli-process.js';
import { replicationPortOf, startNodeProcess, waitForLine } from '../support/replication.js';

// A standby joins a primary holding many durable queues full of messages
// while the primary keeps confirming: the catch-up completes, neither
// side's memory grows with the data, and the promoted standby holds every
// message. `npm run test:catchup` runs it at 5,000 queues and 1 GiB
// (CATCHUP_QUEUES, CATCHUP_MESSAGES of 1 KiB).

const QUEUES = Number(process.env['CATCHUP_QUEUES'] ?? 200);
const MESSAGES = Number(process.env['CATCHUP_MESSAGES'] ?? 50_000);
const BODY = Buffer.alloc(1024, 'c');
/**
 * What the catch-up may cost in memory: the standby's resident size, and
 * the primary's growth over what it held before (its queues keep recent
 * messages in memory whether or not a standby follows). The long run's data
 * is several times this.
 */
const RSS_LIMIT = 400 * 1024 * 1024;

const rss = (pid: number): number => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
const queueName = (i: number): string => `catchup.${i}`;

t.test(`a standby catches up with ${QUEUES} queues and ${MESSAGES} messages while the primary keeps confirming`, { timeout: 900_000 }, async (t) => {
  const primaryDir = shortDataDir(t);
  const standbyDir = shortDataDir(t);
  // `alone` while there is no standby, so the fill is confirmed; confirms wait for the standby once it is in sync.
  const primary = await startNodeProcess(t, primaryDir, ['--replication-port', '0', '--replication-policy', 'alone']);
  const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${primary.port}`);
  t.teardown(() => connection.close().catch(() => {}));
  const ch = await connection.createConfirmChannel();
  for (let i = 0; i < QUEUES; i++) await ch.assertQueue(queueName(i), { durable: true });
  for (let n = 0; n < MESSAGES; n++) {
    ch.sendToQueue(queueName(n % QUEUES), BODY, { persistent: true });
    if (n % 2000 === 1999) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();

  const before = rss(primary.child.pid!);
  let peak = { primary: before, standby: 0 };
  const joined = Date.now();
  const standby = await startNodeProcess(t, standbyDir, ['--standby-of', `127.0.0.1:${await replicationPortOf(primary)}`]);
  const sampler = setInterval(() => {
    peak = { primary: Math.max(peak.primary, rss(primary.child.pid!)), standby: Math.max(peak.standby, rss(standby.child.pid!)) };
  }, 100);
  t.teardown(() => clearInterval(sampler));
  // Meanwhile the primary keeps confirming, to a queue of its own.
  await ch.assertQueue('during', { durable: true });
  let confirmedDuring = 0;
  let syncing = true;
  const during = (async () => {
    while (syncing) {
      for (let i = 0; i < 50; i++) ch.sendToQueue('during', BODY, { persistent: true });
      await ch.waitForConfirms();
      confirmedDuring += 50;
      await delay(5);
    }
  })();
  await waitForLine(standby, 'in sync with the primary', 600_000);
  const seconds = (Date.now() - joined) / 1000;
  syncing = false;
  await during;
  clearInterval(sampler);
  const mib = (bytes: number): number => Math.round(bytes / 2 ** 20);
  t.comment(`in sync after ${seconds.toFixed(1)} s (${Math.round((MESSAGES * BODY.length) / 2 ** 20 / seconds)} MiB/s of message bodies)`);
  t.comment(`RSS: primary ${mib(before)} MiB before, at most ${mib(peak.primary)} MiB during; standby at most ${mib(peak.standby)} MiB; ${confirmedDuring} confirmed during the catch-up`);
  t.ok(confirmedDuring > 0, 'the primary confirmed while the standby caught up');
  t.ok(peak.primary - before < RSS_LIMIT / 2, 'the primary grew by less than 200 MiB');
  t.ok(peak.standby < RSS_LIMIT, 'the standby stayed under 400 MiB');
  t.ok(standby.lines.some((l) => l.includes('sync in progress')) || MESSAGES < 500_000, 'the standby logged its progress');

  await connection.close();
  primary.child.kill('SIGTERM');
  await eventually(() => primary.child.exitCode !== null, 30_000, 'the primary exits');
  // A promotion recovers the whole journal: minutes at the long run's size.
  t.match(await runCtlWithin(600_000, standbyDir, 'promote'), { code: 0 });
  const after = await amqp.connect(`amqp://guest:guest@127.0.0.1:${standby.port}`);
  t.teardown(() => after.close().catch(() => {}));
  const check = await after.createChannel();
  let held = 0;
  for (let i = 0; i < QUEUES; i++) held += (await check.checkQueue(queueName(i))).messageCount;
  t.equal(held, MESSAGES, 'every message of the fill is on the promoted standby');
  t.equal((await check.checkQueue('during')).messageCount, confirmedDuring, 'and every one confirmed during the catch-up');
});
