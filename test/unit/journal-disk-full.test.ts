import t from 'tap';
import type { DurabilityWaiter, Journal } from '../../src/store/journal.js';
import type { StoreFile, StoreFs } from '../../src/store/store-fs.js';
import type { StoredLocation } from '../../src/store/stored-location.js';
import { CrashFs } from '../support/crash-fs.js';
import { openJournal } from '../support/journal.js';

// A disk that has no room for one write, at every write of a workload in
// turn: the journal nacks what that commit held, retries, and a restart
// finds every confirmed message and none whose removal was durable.

const ENOSPC = (): Error => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

/** CrashFs whose `failAt`-th write (counting from arming) fails with ENOSPC, once. */
function fullOnce(disk: CrashFs): { fs: StoreFs; arm(failAt: number): void; writes: () => number } {
  let writes = 0;
  let failAt = 0;
  const fs: StoreFs = {
    ...disk.mount(),
    async open(path, create) {
      const file: StoreFile = await disk.open(path, create);
      return {
        ...file,
        write: (data, position) => (++writes === failAt ? Promise.reject(ENOSPC()) : file.write(data, position)),
        datasync: () => file.datasync(),
        readSync: (target, position) => file.readSync(target, position),
        truncate: (length) => file.truncate(length),
        size: () => file.size(),
        close: () => file.close(),
      };
    },
  };
  return { fs, arm: (n) => void ((failAt = writes + n)), writes: () => writes };
}

class Confirms implements DurabilityWaiter {
  readonly acked = new Set<number>();
  settle(seq: number, ok: boolean): void {
    if (ok) this.acked.add(seq);
  }
}

const body = (id: number): Buffer => Buffer.from(`m${id}`.padEnd(200, '.'));
const idOf = (b: Buffer): number => Number(/^m(\d+)/.exec(b.toString())![1]);
const OPTIONS = { segmentSize: 1500, epoch: 1, retryMs: 5 };

/** Appends, acks and deliveries, flushing after each step; returns what was confirmed and which removals were durable. */
async function workload(journal: Journal, confirms: Confirms): Promise<{ removed: Set<number>; durablyRemoved: Set<number> }> {
  const locations = new Map<number, StoredLocation>();
  const removed = new Set<number>();
  const durablyRemoved = new Set<number>();
  let published = 0;
  for (let step = 0; step < 8; step++) {
    for (let i = 0; i < 3; i++) {
      published++;
      locations.set(published, journal.append([1], 'ex', 'k', Buffer.from([0, 0]), body(published), confirms, published));
    }
    const removing = [...locations].slice(0, 2);
    for (const [id, location] of removing) {
      journal.removed(1, location);
      locations.delete(id);
      removed.add(id);
    }
    journal.delivered(1, [...locations.values()][0]!);
    const failedBefore = journal.failedCommits;
    await journal.flush();
    // A retried commit lands within the retry interval: wait for it.
    for (let i = 0; i < 200 && journal.writeFailure !== undefined; i++) await new Promise((r) => setTimeout(r, 10));
    if (journal.failedCommits === failedBefore) for (const [id] of removing) durablyRemoved.add(id);
  }
  return { removed, durablyRemoved };
}

t.test('ENOSPC at any one write of a workload: retried, nothing confirmed lost, nothing refused at the next start', async (t) => {
  const dry = fullOnce(new CrashFs());
  const { journal: dryJournal } = await openJournal(dry.fs, OPTIONS, [1]);
  const before = dry.writes();
  await workload(dryJournal, new Confirms());
  const writes = dry.writes() - before;
  t.ok(writes > 20, `the workload makes ${writes} writes`);

  const problems: string[] = [];
  for (let point = 1; point <= writes; point++) {
    const disk = new CrashFs();
    const full = fullOnce(disk);
    const { journal } = await openJournal(full.fs, OPTIONS, [1]);
    full.arm(point);
    const confirms = new Confirms();
    const { removed, durablyRemoved } = await workload(journal, confirms);
    if (journal.failure !== undefined) problems.push(`write ${point}: the journal failed for good: ${journal.failure.message}`);
    await journal.close();
    disk.crash(false);
    let ids: number[];
    try {
      const { journal: next, recovered } = await openJournal(disk, OPTIONS, [1]);
      ids = recovered.sort((a, b) => a.seq - b.seq).map((m) => idOf(next.read(m).body));
    } catch (err) {
      problems.push(`write ${point}: no start: ${(err as Error).message}`);
      continue;
    }
    const lost = [...confirms.acked].filter((id) => !removed.has(id) && !ids.includes(id));
    const back = ids.filter((id) => durablyRemoved.has(id));
    if (lost.length + back.length > 0) problems.push(`write ${point}: lost [${lost}], acked yet back [${back}]`);
  }
  t.same(problems, []);
});
