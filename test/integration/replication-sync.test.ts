import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as amqp from 'amqplib';
import t, { type Test } from 'tap';
import type { Broker } from '../../src/broker.js';
import { collect, connect, delay, eventually, within } from '../support/broker.js';
import { tempDataDir } from '../support/data-dir.js';
import { inSync, replication, startNode, startPair, startPairWithChannel, startStandby } from '../support/replication.js';

// A standby that joins late, comes back, or was the primary before gets the
// primary's live state (a snapshot of what queues hold, then the stream),
// never what the primary no longer has.

const persistent = { persistent: true };

async function publishConfirmed(ch: amqp.ConfirmChannel, exchange: string, key: string, bodies: readonly string[]): Promise<void> {
  for (const body of bodies) ch.publish(exchange, key, Buffer.from(body), persistent);
  await ch.waitForConfirms();
}

const bodies = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

async function queueCounts(t: Test, broker: Broker, queues: readonly string[]): Promise<number[]> {
  const connection = await connect(t, broker);
  const ch = await connection.createChannel();
  const counts = [];
  for (const q of queues) counts.push((await ch.checkQueue(q)).messageCount);
  await connection.close();
  return counts;
}

t.test('a standby joining late gets what queues hold: shared messages, unacked ones redelivered, acked ones never', async (t) => {
  const primaryDir = tempDataDir(t, 'primary-');
  // `alone` until the standby exists: the pre-load is confirmed by the primary by itself.
  const primary = await startNode(t, primaryDir, { replication: replication({ policy: 'alone' }), segmentSize: 64 * 1024 });
  const connection = await connect(t, primary);
  const ch = await connection.createConfirmChannel();
  await ch.assertExchange('fan', 'fanout', { durable: true });
  for (const q of ['q1', 'q2']) {
    await ch.assertQueue(q, { durable: true });
    await ch.bindQueue(q, 'fan', '');
  }
  // Stored once, held by both queues; spread over several segments.
  await publishConfirmed(ch, 'fan', '', bodies('a', 600));
  const consumer = await connection.createChannel();
  await consumer.prefetch(200);
  for (const m of await collect(consumer, 'q1', 200, { noAck: false })) consumer.ack(m);
  await consumer.close();
  // Ten of q2's delivered and not acked while the standby joins.
  const holder = await connection.createChannel();
  await holder.prefetch(10);
  await collect(holder, 'q2', 10, { noAck: false });

  const standby = await startStandby(t, tempDataDir(t, 'standby-'), primary);
  await publishConfirmed(ch, 'fan', '', bodies('b', 50));
  const later = await connection.createChannel();
  await later.prefetch(50);
  for (const m of await collect(later, 'q1', 50, { noAck: false })) later.ack(m);
  await later.close();
  await holder.close();
  await primary.close();

  await standby.promote(false);
  t.same(await queueCounts(t, standby, ['q1', 'q2']), [600 - 200 + 50 - 50, 650], 'what each queue held, no more, no less');
  const after = await connect(t, standby);
  const take = await after.createChannel();
  const q1 = await collect(take, 'q1', 400);
  t.same(q1.map((m) => m.content.toString()), [...bodies('a', 600).slice(250), ...bodies('b', 50)], 'q1 in order, without the acked ones');
  const q2 = await collect(take, 'q2', 650);
  t.same(q2.map((m) => m.content.toString()), [...bodies('a', 600), ...bodies('b', 50)], 'q2 in order');
  t.same(q2.slice(0, 10).map((m) => m.fields.redelivered), Array(10).fill(true), 'the ten delivered unacked come back redelivered');
  t.notOk(q2[10]!.fields.redelivered, 'the others do not');
});

t.test('10,000 messages acked while the standby was away never come back after its resync', async (t) => {
  const { primary, standby, standbyDir, connection, ch } = await startPairWithChannel(t, { primary: { segmentSize: 256 * 1024 } });
  await ch.assertQueue('work', { durable: true });
  await publishConfirmed(ch, '', 'work', bodies('w', 10_000));
  await standby.close();
  const consumer = await connection.createChannel();
  await consumer.prefetch(1000);
  let acked = 0;
  await within(
    new Promise<void>((resolve) => {
      void consumer.consume('work', (m) => {
        consumer.ack(m!);
        if (++acked === 10_000) resolve();
      });
    }),
    30_000,
    'every message consumed and acked',
  );
  await consumer.close();
  await publishConfirmedAlone(primary, ch);
  const back = await startStandby(t, standbyDir, primary);
  await primary.close();
  await back.promote(false);
  t.same(await queueCounts(t, back, ['work']), [1], 'only the message published after the acks');
});

/** Under `hold` a publish while the standby is away waits for it: detach, publish, and let the standby's return restore the gate. */
async function publishConfirmedAlone(primary: Broker, ch: amqp.ConfirmChannel): Promise<void> {
  primary.detachStandby();
  await publishConfirmed(ch, '', 'work', ['after']);
}

t.test('an old primary that comes back as a standby drops what the new primary never had', async (t) => {
  const { primary, standby, primaryDir, standbyDir, ch } = await startPairWithChannel(t, { replication: { policy: 'alone' } });
  await ch.assertQueue('q', { durable: true });
  await publishConfirmed(ch, '', 'q', bodies('shared', 10));
  // The standby is cut off; the old primary confirms five more alone (the risk `alone` takes), then dies.
  await standby.close();
  await publishConfirmed(ch, '', 'q', bodies('lost', 5));
  await primary.close();

  const promoted = await startNode(t, standbyDir, { replication: replication({ standbyOf: { host: '127.0.0.1', port: 1 } }) });
  t.match(await promoted.promote(false), /epoch 2/);
  const oldPrimary = await startStandby(t, primaryDir, promoted);
  await promoted.close();
  t.match(await oldPrimary.promote(false), /epoch 3/);
  t.same(await queueCounts(t, oldPrimary, ['q']), [10], 'the five only the old primary had are gone');
});

t.test('a standby refuses a primary from an older epoch', async (t) => {
  const { primary, standby, standbyDir } = await startPair(t);
  await primary.close();
  await standby.promote(false);
  await standby.close();
  // The old primary, restarted as a primary in epoch 1, and the node that was promoted (epoch 2) told to follow it.
  const stale = await startNode(t, tempDataDir(t, 'stale-'), { replication: replication() });
  const follower = await startNode(t, standbyDir, { replication: replication({ standbyOf: { host: '127.0.0.1', port: stale.replicationPort! } }) });
  await eventually(() => stale.replicationStatus()?.state === 'no standby' && follower.replicationStatus()!.state.startsWith('link down'), 10_000, 'the follower tried');
  await delay(1500);
  t.match(follower.replicationStatus()?.state, /^link down/, 'the follower does not take the stale primary');
  t.equal(stale.replicationStatus()?.state, 'no standby', 'the stale primary gets no standby');
});

t.test('a standby restarted while in sync catches up', async (t) => {
  const { primary, standby, standbyDir, ch } = await startPairWithChannel(t);
  await ch.assertQueue('q', { durable: true });
  await publishConfirmed(ch, '', 'q', bodies('x', 100));
  await standby.close();
  const again = await startStandby(t, standbyDir, primary);
  await publishConfirmed(ch, '', 'q', bodies('y', 100));
  await inSync(again);
  await primary.close();
  await again.promote(false);
  t.same(await queueCounts(t, again, ['q']), [200]);
});

t.test('a standby whose sync was cut short refuses a promotion, saying why; forced, it falls back to its last complete sync', async (t) => {
  const { primary, standby, standbyDir, ch } = await startPairWithChannel(t);
  await ch.assertQueue('q', { durable: true });
  await publishConfirmed(ch, '', 'q', bodies('kept', 100));
  await standby.close();
  await primary.close();
  // What a sync cut short right after it began leaves: the complete journal set aside, an empty one marked SYNCING.
  renameSync(join(standbyDir, 'journal'), join(standbyDir, 'journal.previous'));
  mkdirSync(join(standbyDir, 'journal'));
  writeFileSync(join(standbyDir, 'journal', 'SYNCING'), '');
  const cutShort = await startNode(t, standbyDir, { replication: replication({ standbyOf: { host: '127.0.0.1', port: 1 } }) });
  await t.rejects(cutShort.promote(false), /out of sync .*promote with --force/);
  t.equal(cutShort.role, 'standby', 'still a standby after the refusal');
  t.match(await cutShort.promote(true), /journal: last complete, set aside by a sync cut short/);
  t.same(await queueCounts(t, cutShort, ['q']), [100], 'every message of the last complete sync');
});
