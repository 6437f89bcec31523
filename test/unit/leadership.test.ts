import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import t from 'tap';
import type { SyncRecord } from '../../src/failover/arbiter-records.js';
import { Leadership, type LeaseKeeper } from '../../src/failover/leadership.js';

// A leadership's fence, against an etcd whose answers the test hands out
// one at a time: confirming alone is allowed only while etcd surely says
// "alone", and nothing is allowed once the lease has lapsed on this
// process's clock.

const quiet = pino({ level: 'silent' });
const leader = { id: 'me', amqp: 'h:5672', replication: 'h:25672', epoch: 3 };

/** An etcd whose in-sync record writes wait until the test settles them. */
function heldEtcd(): { keeper: LeaseKeeper; writes: { record: SyncRecord; settle(landed: boolean | Error): void }[] } {
  const writes: { record: SyncRecord; settle(landed: boolean | Error): void }[] = [];
  const keeper: LeaseKeeper = {
    keepAlive: () => Promise.resolve(60),
    resign: () => Promise.resolve(),
    revokeLease: () => Promise.resolve(),
    recordSync: (_revision, record) =>
      new Promise<boolean>((resolve, reject) => writes.push({ record, settle: (landed) => (landed instanceof Error ? reject(landed) : resolve(landed)) })),
  };
  return { keeper, writes };
}

const settled = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

function lead(keeper: LeaseKeeper, requestedAt = performance.now(), onLost: (reason: string) => void = () => {}): Leadership {
  const leadership = new Leadership(keeper, { id: '1', ttlSeconds: 60, requestedAt }, leader, '7', quiet, onLost);
  t.teardown(() => leadership.release());
  return leadership;
}

t.test('a standby dropping out while "in sync" is being written: nothing is confirmed alone until "alone" has landed after it', async (t) => {
  const { keeper, writes } = heldEtcd();
  const leadership = lead(keeper);
  t.ok(leadership.mayConfirmAlone(), 'the election recorded "alone"');
  leadership.standbyInSync(true, 'S');
  t.same(writes.map((w) => w.record.inSync), [true], '"in sync" is being written');
  leadership.standbyInSync(false, undefined);
  t.notOk(leadership.mayConfirmAlone(), 'not while "in sync" may land');
  writes[0]!.settle(true);
  await settled();
  t.same(writes.map((w) => w.record.inSync), [true, false], 'then "alone" is written');
  t.notOk(leadership.mayConfirmAlone(), 'not while etcd says "in sync"');
  writes[1]!.settle(true);
  await settled();
  t.ok(leadership.mayConfirmAlone(), 'once "alone" has landed');
});

t.test('a write of "in sync" that failed may have landed: "alone" must be written again before confirming alone', async (t) => {
  const { keeper, writes } = heldEtcd();
  const leadership = lead(keeper);
  leadership.standbyInSync(true, 'S');
  leadership.standbyInSync(false, undefined);
  writes[0]!.settle(new Error('deadline exceeded'));
  t.notOk(leadership.mayConfirmAlone(), 'not after a failed write');
  await t.resolves(() => new Promise<void>((resolve, reject) => {
    const deadline = Date.now() + 10_000;
    const poll = (): void => (writes.length > 1 ? resolve() : Date.now() > deadline ? reject(new Error('no second write')) : void setTimeout(poll, 10));
    poll();
  }));
  t.equal(writes[1]!.record.inSync, false, '"alone" is written again');
  writes[1]!.settle(true);
  await settled();
  t.ok(leadership.mayConfirmAlone());
});

t.test('a write refused because the leader key is no longer this leadership\'s ends it', async (t) => {
  const { keeper, writes } = heldEtcd();
  const lost: string[] = [];
  const leadership = lead(keeper, performance.now(), (reason) => lost.push(reason));
  leadership.standbyInSync(true, 'S');
  writes[0]!.settle(false);
  await settled();
  t.same(lost, ["the leader key is no longer this node's"]);
  t.notOk(leadership.holdsLeadership(), 'nothing is confirmed after it');
});

t.test('woken past the lease (its renewal sent longer ago than the TTL less the margin), nothing is confirmed and the leadership is lost', async (t) => {
  const { keeper } = heldEtcd();
  const lost: string[] = [];
  const leadership = lead(keeper, performance.now() - 59_000, (reason) => lost.push(reason));
  t.notOk(leadership.holdsLeadership(), 'the margin (a fifth of the TTL) has passed');
  await settled();
  t.equal(lost.length, 1, 'lost once');
  t.match(lost[0], /could not be renewed|ran out/);
});
