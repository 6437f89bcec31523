import t from 'tap';
import { connect, delay, eventually, within } from '../support/broker.js';
import { tempDataDir } from '../support/data-dir.js';
import { capturedLogger, inSync, replication, SECRET, startNode, startPair, startPairWithChannel, startStandby } from '../support/replication.js';

// What a primary does while its standby is away: `hold` keeps confirms (and
// durable declare-oks) back until the standby is in sync again or an
// operator detaches it; `alone` confirms without it.

/** Publishes one persistent message with a confirm; resolves when it is confirmed. */
async function confirmedPublish(channel: import('amqplib').ConfirmChannel, queue: string, body: string): Promise<void> {
  await new Promise<void>((resolve, reject) => channel.sendToQueue(queue, Buffer.from(body), { persistent: true }, (err) => (err ? reject(err) : resolve())));
}

t.test('hold: confirms wait while the standby is away, until it is back in sync or detached', async (t) => {
  const { primary, standby, standbyDir, ch } = await startPairWithChannel(t);
  await ch.assertQueue('q', { durable: true });
  await confirmedPublish(ch, 'q', 'while in sync');

  await standby.close();
  await eventually(() => primary.replicationStatus()?.state === 'no standby', 10_000, 'the primary notices the standby is gone');
  let confirmed = false;
  const held = confirmedPublish(ch, 'q', 'while away').then(() => (confirmed = true));
  await delay(500);
  t.notOk(confirmed, 'no confirm while the standby is away');

  // The standby comes back, catches up: the held confirm goes out.
  const back = await startStandby(t, standbyDir, primary);
  await within(held, 20_000, 'the held confirm once the standby is back in sync');
  t.ok(confirmed);
  await back.close();
  await eventually(() => primary.replicationStatus()?.state === 'no standby', 10_000, 'the standby is gone again');

  confirmed = false;
  const heldAgain = confirmedPublish(ch, 'q', 'away again').then(() => (confirmed = true));
  await delay(300);
  t.notOk(confirmed, 'held again');
  t.match(primary.detachStandby(), /confirming alone/);
  await within(heldAgain, 5000, 'the held confirm once detached');
  await within(confirmedPublish(ch, 'q', 'detached'), 5000, 'later confirms go out at once');
  t.equal(primary.replicationStatus()?.confirming, 'alone');
});

t.test('hold: a primary that never had a standby starts, and its durable declares wait for one', async (t) => {
  const primaryDir = tempDataDir(t, 'primary-');
  const primary = await startNode(t, primaryDir, { replication: replication() });
  const connection = await connect(t, primary);
  const ch = await connection.createChannel();
  let declared = false;
  const declare = ch.assertQueue('d', { durable: true }).then(() => (declared = true));
  await delay(300);
  t.notOk(declared, 'declare-ok waits for a standby');
  await startStandby(t, tempDataDir(t, 'standby-'), primary);
  await within(declare, 20_000, 'declare-ok once the standby is in sync');
});

t.test('alone: confirms go on while the standby is away', async (t) => {
  const { primary, standby, ch } = await startPairWithChannel(t, { replication: { policy: 'alone' } });
  await ch.assertQueue('q', { durable: true });
  await standby.close();
  await eventually(() => primary.replicationStatus()?.state === 'no standby', 10_000, 'the primary notices');
  await within(confirmedPublish(ch, 'q', 'alone'), 5000, 'confirmed without the standby');
  t.equal(primary.replicationStatus()?.confirming, 'alone');
});

t.test('a peer that does not know the secret is dropped, with one log line', async (t) => {
  const { logger, lines } = capturedLogger();
  const primary = await startNode(t, tempDataDir(t, 'primary-'), { replication: replication(), logger });
  const intruder = await startNode(t, tempDataDir(t, 'intruder-'), {
    replication: replication({ secret: `not ${SECRET}`, standbyOf: { host: '127.0.0.1', port: primary.replicationPort! } }),
  });
  await eventually(() => lines.some((l) => l.msg.includes('failed to prove the cluster secret')), 10_000, 'the primary logs the refusal');
  t.equal(primary.replicationStatus()?.state, 'no standby');
  t.match(intruder.replicationStatus()?.state, /link down/);
});

t.test('users, vhosts and permissions are mirrored', async (t) => {
  const { primary, standby } = await startPair(t);
  await primary.admin.addVhost('shop');
  await primary.admin.addUser('ann', 'secret');
  await primary.admin.setPermissions('ann', 'shop', { configure: '.*', write: '.*', read: '.*' });
  await primary.close();
  await standby.promote(false);
  const connection = await import('amqplib').then((amqp) => amqp.connect(`amqp://ann:secret@127.0.0.1:${standby.port}/shop`));
  t.teardown(() => connection.close().catch(() => {}));
  const ch = await connection.createChannel();
  // Not durable: under `hold`, with no standby of its own yet, a durable declare would wait for one.
  await ch.assertQueue('mine', { durable: false });
  t.pass('ann logs in to shop on the promoted node, with her permissions');
});

t.test('the standby waits for the primary that is not there yet, then joins it', async (t) => {
  const standbyDir = tempDataDir(t, 'standby-');
  const primaryDir = tempDataDir(t, 'primary-');
  // A port the primary will take: the standby starts first and keeps trying.
  const probe = await startNode(t, tempDataDir(t, 'probe-'), { replication: replication() });
  const port = probe.replicationPort!;
  await probe.close();
  const standby = await startNode(t, standbyDir, { replication: replication({ standbyOf: { host: '127.0.0.1', port } }) });
  t.match(standby.replicationStatus()?.state, /link down/);
  await startNode(t, primaryDir, { replication: replication({ port }) });
  await inSync(standby);
});

t.test('hold: messages that are not stored never wait for the standby', async (t) => {
  const { primary, standby, ch } = await startPairWithChannel(t);
  await ch.assertQueue('stored', { durable: true });
  await ch.assertQueue('transient', { durable: false });
  await standby.close();
  await eventually(() => primary.replicationStatus()?.state === 'no standby', 10_000, 'the primary notices the standby is gone');
  const confirmed = (queue: string, persistent: boolean): Promise<void> =>
    new Promise((resolve, reject) => ch.sendToQueue(queue, Buffer.from('x'), { persistent }, (err) => (err ? reject(err) : resolve())));
  await within(confirmed('stored', false), 5000, 'a transient message to a durable queue is confirmed at once');
  await within(confirmed('transient', true), 5000, 'so is a persistent one to a queue that is not durable');
});
