import * as amqp from 'amqplib';
import t, { type Test } from 'tap';
import { connectionClosed, eventually, within } from '../support/broker.js';
import { TestEtcd } from '../support/etcd.js';
import { electedPair, leads, settledPair, TEST_LEASE_TTL_SECONDS, type TestNode, urlOf } from '../support/failover.js';
import type { LogLine } from '../support/replication.js';

// Two nodes under automatic failover, in this process, with a real etcd
// (Debian's etcd-server, started by the test) and real clients: who leads
// is etcd's leader key under a lease; links to etcd and between the nodes
// go through proxies the test cuts.

const QUEUE = 'fo';
const LEASE_MS = TEST_LEASE_TTL_SECONDS * 1000;
// Each case waits out a lease or two, and the three-member case starts etcd three times over.
t.setTimeout(300_000);

/** Publishes `count` persistent messages with ids `${prefix}-n` on a confirm channel; the ids confirmed. */
async function publishConfirmed(node: TestNode, prefix: string, count: number): Promise<string[]> {
  const connection = await amqp.connect(urlOf(node));
  const ch = await connection.createConfirmChannel();
  await ch.assertQueue(QUEUE, { durable: true });
  for (let i = 0; i < count; i++) ch.sendToQueue(QUEUE, Buffer.from(`${prefix}-${i}`), { persistent: true });
  await ch.waitForConfirms();
  await connection.close();
  return Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
}

/** Every message in the queue, taken (acked) from `node`. */
async function takeAll(node: TestNode): Promise<Set<string>> {
  const connection = await amqp.connect(urlOf(node));
  const ch = await connection.createChannel();
  await ch.assertQueue(QUEUE, { durable: true });
  const seen = new Set<string>();
  for (let m = await ch.get(QUEUE, { noAck: true }); m !== false; m = await ch.get(QUEUE, { noAck: true })) seen.add(m.content.toString());
  await connection.close();
  return seen;
}

/** Every id of `confirmed` is in the queue on `node` (taken from it). */
async function assertHeld(t: Test, node: TestNode, confirmed: readonly string[]): Promise<void> {
  const held = await takeAll(node);
  t.same(confirmed.filter((id) => !held.has(id)), [], 'every confirmed message is there');
}

/** A client connection to `node`, and how it ends. */
async function watchedClient(node: TestNode): Promise<{ client: amqp.ChannelModel; closed: ReturnType<typeof connectionClosed> }> {
  const client = await amqp.connect(urlOf(node));
  client.on('error', () => {});
  return { client, closed: connectionClosed(client) };
}

const lineOf = (node: TestNode, msg: string): LogLine | undefined => [...node.lines].reverse().find((l) => l.msg === msg);
const role = (node: TestNode): string | undefined => node.node?.current.role;

t.test('automatic failover', async (t) => {
  const etcd = await TestEtcd.start(t);

  t.test('two nodes elect one primary; the other follows it and turns clients away naming it', async (t) => {
    const { primary, standby } = await electedPair(t, etcd);
    const err = await amqp.connect(urlOf(standby)).then(
      () => undefined,
      (e: Error) => e,
    );
    t.match(err?.message, `320 (CONNECTION-FORCED) with message "CONNECTION_FORCED - this node is a standby; the primary is 127.0.0.1:${primary.amqpPort}"`);
    const status = standby.node!.current.replicationStatus() as unknown as Record<string, string>;
    t.equal(status['leader'], `${primary.node!.id} (amqp 127.0.0.1:${primary.amqpPort}, replication 127.0.0.1:${primary.toReplication.port})`);
    t.equal(status['leader_epoch'], '1');
    t.equal(status['in_sync_record'], `standby ${standby.node!.id} in sync with ${primary.node!.id} in epoch 1`);
    t.equal(await publishConfirmed(primary, 'a', 10).then((ids) => ids.length), 10, 'the primary confirms with its standby in sync');
  });

  t.test('a primary that shuts down gives the leader key up: its standby takes over with every confirmed message', async (t) => {
    const { primary, standby } = await electedPair(t, etcd);
    const confirmed = await publishConfirmed(primary, 'b', 200);
    await primary.node!.close();
    primary.node = undefined;
    t.ok(lineOf(primary, 'failover: leadership resigned'), 'the leader key was given up, not left to expire');
    await eventually(() => leads(standby), 20_000, 'the standby is promoted');
    t.equal(standby.node!.current.replicationStatus()?.epoch, 2, 'in the next epoch');
    await assertHeld(t, standby, confirmed);
  });

  t.test('a primary cut off from etcd closes its clients before its lease expires; the standby takes over; the old primary comes back as its standby', async (t) => {
    const { primary, standby } = await electedPair(t, etcd);
    const confirmed = await publishConfirmed(primary, 'c', 100);
    const { closed } = await watchedClient(primary);
    primary.toEtcd.cut();
    const err = await within(closed, LEASE_MS * 3, 'the primary closes its client connections');
    t.match(err?.message, /320.*this node lost its leadership/, 'clients are told why, with 320');
    await eventually(() => leads(standby), LEASE_MS * 5, 'the standby is promoted');
    const lost = lineOf(primary, 'failover: leadership lost: the lease could not be renewed for 2400 ms (etcd unreachable?)');
    const won = lineOf(standby, 'failover: won the election; promoting');
    t.ok(lost !== undefined && won !== undefined, 'both sides logged it');
    t.ok(Date.parse(String(lost!['lastLeadingAt'])) < Number(won!['time']), 'the old primary confirmed nothing after the new one was elected');
    primary.toEtcd.mend();
    const pair = await settledPair(primary, standby);
    t.equal(pair.primary, standby, 'the new primary keeps leading');
    await assertHeld(t, standby, confirmed);
  });

  t.test('a standby cut off from its primary is recorded out of sync before the primary confirms alone, and may not take over', async (t) => {
    const { primary, standby } = await electedPair(t, etcd);
    primary.toReplication.cut();
    await eventually(() => /confirms alone in epoch 1/.test(primary.node!.status()['in_sync_record']!), 10_000, 'the primary records the standby out of sync');
    const confirmed = await publishConfirmed(primary, 'd', 50);
    // The primary dies for the pair: cut off from etcd, it stops; its standby must not take over without those 50.
    primary.toEtcd.cut();
    await eventually(() => role(primary) === 'standby', LEASE_MS * 3, 'the old primary stops leading');
    await eventually(() => lineOf(standby, 'failover: the leader key is vacant, but this node may not stand for election') !== undefined, LEASE_MS * 5, 'the standby declines');
    t.equal(role(standby), 'standby', 'the standby stays a standby');
    primary.toEtcd.mend();
    primary.toReplication.mend();
    const pair = await settledPair(primary, standby);
    t.equal(pair.primary, primary, 'the node holding every confirmed message leads again');
    t.equal(primary.node!.current.replicationStatus()?.epoch, 2, 'in a new epoch');
    await assertHeld(t, primary, confirmed);
  });

  t.test('with etcd gone the pair stops confirming, and resumes without loss when it is back', async (t) => {
    const { primary, standby } = await electedPair(t, etcd);
    const confirmed = await publishConfirmed(primary, 'e', 100);
    const { client, closed } = await watchedClient(primary);
    const ch = await client.createConfirmChannel();
    ch.on('error', () => {});
    await etcd.kill();
    let lateConfirms = 0;
    const lost = within(closed, LEASE_MS * 3, 'the primary closes its client connections');
    for (let i = 0; i < 20; i++) ch.sendToQueue(QUEUE, Buffer.from(`late-${i}`), { persistent: true }, (e) => void (e ? 0 : lateConfirms++));
    t.match(((await lost) as Error | undefined)?.message, /320.*lost its leadership/);
    // The broker that lost the leadership is replaced by one that waits as a standby.
    await eventually(() => ![primary, standby].some(leads), 10_000, 'no node leads while etcd is gone');
    await etcd.restart();
    const pair = await settledPair(primary, standby, 60_000);
    await assertHeld(t, pair.primary, confirmed);
    t.ok(lateConfirms <= 20, `publishes sent as etcd went confirmed: ${lateConfirms} (those are kept too, if any)`);
  });
});

t.test('with three etcd members, the loss of any one never stops the pair', async (t) => {
  const etcd = await TestEtcd.start(t, 3);
  let { primary, standby } = await electedPair(t, etcd, true);
  const confirmed: string[] = [];
  for (let member = 0; member < 3; member++) {
    await etcd.kill(member);
    // A member's loss may cost the Raft leader and a lease renewal; a primary serves again, with its standby in sync.
    ({ primary, standby } = await settledPair(primary, standby, 60_000));
    confirmed.push(...(await publishConfirmed(primary, `m${member}`, 50)));
    await etcd.restart(member);
  }
  await assertHeld(t, (await settledPair(primary, standby, 60_000)).primary, confirmed);
});
