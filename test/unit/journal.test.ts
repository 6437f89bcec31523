import t from 'tap';
import type { DurabilityWaiter, StoredLocation } from '../../src/store/journal.js';
import { CrashFs } from '../support/crash-fs.js';
import { openJournal } from '../support/journal.js';

const options = { segmentSize: 4096, epoch: 1 };

class Confirms implements DurabilityWaiter {
  readonly acked: number[] = [];
  readonly nacked: number[] = [];
  settle(seq: number, ok: boolean): void {
    (ok ? this.acked : this.nacked).push(seq);
  }
}

// A journal still running when the power goes fails with EIO: expected, and the tests look at the next boot.
const open = (fs: CrashFs, queues: number[] = [1, 2]) => openJournal(fs, options, queues);

const body = (i: number): Buffer => Buffer.from(`message ${i} `.repeat(20));

t.test('appended messages are confirmed after the commit and recovered after a restart', async (t) => {
  const fs = new CrashFs();
  const { journal } = await open(fs);
  const confirms = new Confirms();
  for (let i = 1; i <= 50; i++) journal.append([1], 'ex', `key.${i}`, Buffer.from([0, 0]), body(i), confirms, i);
  t.same(confirms.acked, [], 'nothing is confirmed before the data is synced');
  await journal.flush();
  t.same(confirms.acked, Array.from({ length: 50 }, (_, i) => i + 1));
  t.ok(journal.segmentCount > 1, 'small segments rotate');
  fs.crash(false);
  const { recovered, journal: reopened } = await open(fs);
  t.equal(recovered.length, 50);
  t.same(recovered.map((m) => reopened.read(m).routingKey), Array.from({ length: 50 }, (_, i) => `key.${i + 1}`), 'in publish order');
  t.same(reopened.read(recovered[7]!).body, body(8));
});

t.test('removed messages stay gone, delivered ones come back marked, emptied segments are deleted', async (t) => {
  const fs = new CrashFs();
  const { journal } = await open(fs);
  const locations: StoredLocation[] = [];
  for (let i = 1; i <= 40; i++) locations.push(journal.append([1, 2], 'ex', 'k', Buffer.from([0, 0]), body(i)));
  await journal.flush();
  const segmentsBefore = journal.segmentCount;
  for (const loc of locations.slice(0, 30)) {
    journal.removed(1, loc);
    journal.removed(2, loc);
  }
  journal.delivered(1, locations[35]!);
  await journal.flush();
  t.ok(journal.segmentCount < segmentsBefore, 'segments whose messages are all removed are deleted');
  fs.crash(false);
  const { recovered } = await open(fs);
  t.equal(recovered.length, 10);
  const m36 = recovered.find((m) => m.offset === locations[35]!.offset && m.segment === locations[35]!.segment)!;
  t.same([...(m36.delivered ?? [])], [1], 'the delivered mark comes back for the queue that had it');
  t.same(m36.queueIds, [1, 2]);
});

t.test('records of deleted queues are not recovered', async (t) => {
  const fs = new CrashFs();
  const { journal } = await open(fs);
  journal.append([1, 2], 'ex', 'k', Buffer.from([0, 0]), body(1));
  journal.append([2], 'ex', 'k', Buffer.from([0, 0]), body(2));
  await journal.flush();
  fs.crash(false);
  const { recovered } = await open(fs, [1]);
  t.equal(recovered.length, 1);
  t.same(recovered[0]!.queueIds, [1]);
});

t.test('a torn last record is cut off; everything confirmed before it survives', async (t) => {
  const fs = new CrashFs(seeded(7));
  const { journal } = await open(fs);
  const confirms = new Confirms();
  for (let i = 1; i <= 5; i++) journal.append([1], 'ex', 'k', Buffer.from([0, 0]), body(i), confirms, i);
  await journal.flush();
  // Power goes out in the second commit, between its write and its fdatasync: some unsynced bytes may land, torn.
  const crashed = fs.crashAt(2, true);
  for (let i = 6; i <= 9; i++) journal.append([1], 'ex', 'k', Buffer.from([0, 0]), body(i), confirms, i);
  await crashed;
  await journal.flush();
  t.same(confirms.nacked, [6, 7, 8, 9], 'what the crash interrupted is not confirmed');
  const { recovered, journal: reopened } = await open(fs);
  t.ok(recovered.length >= 5, 'every confirmed message is there');
  const bodies = recovered.map((m) => reopened.read(m).body);
  t.same(bodies.slice(0, 5), [1, 2, 3, 4, 5].map(body));
  for (const b of bodies) t.ok(b.equals(body(Number(b.toString().split(' ')[1]))), 'no damaged message is recovered');
  reopened.append([1], 'ex', 'k', Buffer.from([0, 0]), body(10));
  await reopened.flush();
  fs.crash(false);
  const after = await open(fs);
  t.equal(after.journal.read(after.recovered.at(-1)!).body.toString(), body(10).toString(), 'appends continue after the cut');
});

function seeded(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}
