import t from 'tap';
import type { Journal, StoredLocation } from '../../src/store/journal.js';
import type { RecoveredMessage } from '../../src/store/recovery.js';
import { CrashFs } from '../support/crash-fs.js';
import { JOURNAL_DIR, openJournal } from '../support/journal.js';
import { seeded } from '../support/seeded-random.js';

// Segments that are mostly garbage get their live records copied forward and
// are deleted; queues keep the locations they had.

const options = { segmentSize: 4096, epoch: 1 };
const open = (fs: CrashFs) => openJournal(fs, options, [1, 2]);
const body = (i: number, size = 200): Buffer => Buffer.from(`message ${i};`.padEnd(size, '.'));
const idOf = (b: Buffer): number => Number(/^message (\d+);/.exec(b.toString())?.[1]);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Bytes of every .msgs file on the disk. */
const storedBytes = (fs: CrashFs): number =>
  fs.list(JOURNAL_DIR).filter((n) => n.endsWith('.msgs')).reduce((sum, n) => sum + fs.readFile(`${JOURNAL_DIR}/${n}`).length, 0);

const turn = (): Promise<void> => new Promise(setImmediate);

/** Lets a compaction, if one was started, run to its end. */
async function settle(journal: Journal): Promise<void> {
  await journal.flush();
  for (let i = 0; i < 1000 && journal.compactionState !== 'idle'; i++) {
    await turn();
    await journal.flush();
  }
}

/** Lets compaction look until it has nothing left to do (each look compacts at most one segment). */
async function compactAll(journal: Journal): Promise<void> {
  for (let i = 0; i < 30; i++) {
    journal.lookForCompaction();
    await settle(journal);
  }
}

/** What a restart recovers, in the order the queues put it (publish order): ids and the recovered entries. */
async function restart(fs: CrashFs): Promise<{ journal: Journal; ids: number[]; recovered: RecoveredMessage[] }> {
  fs.crash(false);
  const { journal, recovered } = await open(fs);
  recovered.sort((a, b) => a.seq - b.seq);
  return { journal, ids: recovered.map((m) => idOf(journal.read(m).body)), recovered };
}

async function publish(journal: Journal, from: number, to: number, size?: number): Promise<Map<number, StoredLocation>> {
  const locations = new Map<number, StoredLocation>();
  for (let i = from; i <= to; i++) locations.set(i, journal.append([1], 'ex', `key.${i}`, Buffer.from([0, 0]), body(i, size)));
  await journal.flush();
  return locations;
}

t.test('a mostly acked segment is copied forward and deleted; old locations still read and ack; a restart finds the rest in order', async (t) => {
  const fs = new CrashFs();
  const { journal } = await open(fs);
  const locations = await publish(journal, 1, 100);
  const kept = range(1, 100).filter((i) => i % 4 === 0);
  for (const [i, location] of locations) if (!kept.includes(i)) journal.removed(1, location);
  journal.delivered(1, locations.get(8)!);
  await journal.flush();
  const before = storedBytes(fs);
  await compactAll(journal);
  const after = storedBytes(fs);
  t.ok(after < before / 2, `the journal shrank from ${before} to ${after} bytes`);

  t.same(kept.map((i) => idOf(journal.read(locations.get(i)!).body)), kept, 'every kept message reads back through the location its queue holds');
  t.equal(journal.read(locations.get(40)!).routingKey, 'key.40');
  journal.removed(1, locations.get(12)!);
  await journal.flush();

  const { journal: next, ids, recovered } = await restart(fs);
  t.same(ids, kept.filter((i) => i !== 12), 'the ack through the old location counted; the rest come back in publish order');
  const eighth = recovered.find((m) => idOf(next.read(m).body) === 8);
  t.same([...(eighth?.delivered ?? [])], [1], 'the delivered mark moved with the copy');
});

t.test('a record copied twice still answers to its first location', async (t) => {
  const fs = new CrashFs();
  const { journal } = await open(fs);
  const first = await publish(journal, 1, 40);
  for (const [i, location] of first) if (i % 5 !== 0) journal.removed(1, location);
  await journal.flush();
  await compactAll(journal);
  // Bury the copies in garbage: more messages around them, then most of those acked.
  const second = await publish(journal, 41, 200);
  for (const [i, location] of second) if (i % 10 !== 0) journal.removed(1, location);
  await journal.flush();
  await compactAll(journal);
  await compactAll(journal);

  const survivors = [...range(1, 40).filter((i) => i % 5 === 0), ...range(41, 200).filter((i) => i % 10 === 0)];
  const all = new Map([...first, ...second]);
  t.same(survivors.map((i) => idOf(journal.read(all.get(i)!).body)), survivors, 'reads follow every move');
  journal.removed(1, first.get(5)!);
  journal.removed(1, first.get(40)!);
  await journal.flush();
  t.same((await restart(fs)).ids, survivors.filter((i) => i !== 5 && i !== 40));
});

t.test('a segment still being drained is left alone; one whose few live records hold most of its bytes is kept', async (t) => {
  const fs = new CrashFs();
  const { journal } = await open(fs);
  const locations = await publish(journal, 1, 60);
  const msgsFiles = (): string[] => fs.list(JOURNAL_DIR).filter((n) => n.endsWith('.msgs'));
  const draining = msgsFiles();
  const queue = [...locations.values()];
  for (let look = 0; look < 10; look++) {
    for (const location of queue.splice(0, 3)) journal.removed(1, location);
    journal.lookForCompaction();
    await journal.flush();
  }
  t.ok(msgsFiles().every((n) => draining.includes(n)), 'no copies made while acks keep coming');

  // Big records alternate with small ones; acking the small ones leaves under half the pairs but most of the bytes.
  const mixed = new Map<number, StoredLocation>();
  for (let i = 100; i < 110; i++) mixed.set(i, journal.append([1], 'ex', 'k', Buffer.from([0, 0]), body(i, i % 2 === 0 ? 1000 : 20)));
  for (let i = 110; i < 140; i++) mixed.set(i, journal.append([1], 'ex', 'k', Buffer.from([0, 0]), body(i, 20)));
  await journal.flush();
  for (const [i, location] of mixed) if (i % 2 === 1 || i >= 110) journal.removed(1, location);
  await journal.flush();
  const bigOnes = storedBytes(fs);
  await compactAll(journal);
  t.ok(storedBytes(fs) >= bigOnes - 4096, 'the segment of big live records was not copied');
  t.same(
    range(100, 108).filter((i) => i % 2 === 0).map((i) => idOf(journal.read(mixed.get(i)!).body)),
    [100, 102, 104, 106, 108],
  );
});

/**
 * Publishes, acks most, compacts, and acks some of what is being copied,
 * with a flush after each step; stops at the first failure. Returns what was
 * published and which removals were durable.
 */
const NOTHING_PUBLISHED = { published: 0, durable: new Set<number>(), removed: new Set<number>(), durablyRemoved: new Set<number>() };

async function workload(journal: Journal) {
  const ackedWhileCompacting = { reading: 0, copied: 0 };
  const removed = new Set<number>();
  const durablyRemoved = new Set<number>();
  const durable = new Set<number>();
  let published = 0;
  const locations = new Map<number, StoredLocation>();
  for (let step = 0; step < 6 && journal.failure === undefined; step++) {
    for (let i = 0; i < 12; i++) locations.set(++published, journal.append([1], 'ex', 'k', Buffer.from([0, 0]), body(published, 120)));
    const removing = [...locations.keys()].filter((id) => id % 3 !== 0 || (step > 2 && id % 9 === 0 && id < published / 2));
    for (const id of removing) {
      journal.removed(1, locations.get(id)!);
      locations.delete(id);
      removed.add(id);
    }
    await journal.flush();
    if (journal.failure !== undefined) break;
    for (let id = 1; id <= published; id++) durable.add(id);
    for (const id of removing) durablyRemoved.add(id);
    journal.lookForCompaction();
    await journal.flush();
    // Ack some of the segment while it is read (those must not be copied), and some once they are
    // copied and the copies are on their way to disk (those acks must reach the copies too).
    for (const state of ['reading', 'copied'] as const) {
      for (let i = 0; i < 50 && journal.compactionState !== state && journal.compactionState !== 'idle'; i++) await turn();
      if (journal.compactionState !== state) continue;
      for (const [id, location] of [...locations].slice(0, 2)) {
        journal.removed(1, location);
        locations.delete(id);
        removed.add(id);
        removing.push(id);
        ackedWhileCompacting[state]++;
      }
    }
    await settle(journal);
    if (journal.failure === undefined) for (const id of removing) durablyRemoved.add(id);
  }
  return { published, durable, removed, durablyRemoved, ackedWhileCompacting };
}

t.test('a power loss at every disk change of a compacting workload loses nothing, duplicates nothing, brings back no durable ack', async (t) => {
  const dry = new CrashFs();
  const dryRun = await workload((await open(dry)).journal);
  const { reading, copied } = dryRun.ackedWhileCompacting;
  t.ok(reading > 0 && copied > 0, `${reading} acks came while a segment was read, ${copied} while its copies were on their way`);
  const changes = dry.changes;
  t.ok(changes > 50, `the workload makes ${changes} changes`);
  const { ids: dryIds } = await restart(dry);
  t.equal(dryIds.length, dryRun.published - dryRun.removed.size);
  const problems: string[] = [];
  for (let point = 1; point <= changes; point++) {
    for (const [seed, keep] of [[1, false], [2, true], [3, true]] as const) {
      const fs = new CrashFs(seeded(seed * 1000 + point));
      const crashed = fs.crashAt(point, keep);
      // Opening writes the first snapshot of the definitions: a crash there fails the open, with nothing published.
      const opened = await open(fs).catch(() => undefined);
      const { published, durable, removed, durablyRemoved } = opened === undefined ? NOTHING_PUBLISHED : await workload(opened.journal);
      await crashed;
      const where = `crash at change ${point} (seed ${seed}, keep ${keep})`;
      let ids: number[];
      try {
        ({ ids } = await restart(fs));
      } catch (err) {
        problems.push(`${where}: open failed: ${(err as Error).message}`);
        continue;
      }
      const lost = [...durable].filter((id) => !removed.has(id) && !ids.includes(id));
      const unknown = ids.filter((id) => !(id >= 1 && id <= published));
      const resurrected = ids.filter((id) => durablyRemoved.has(id));
      const duplicated = ids.filter((id, i) => ids.indexOf(id) !== i);
      const disordered = ids.some((id, i) => i > 0 && id < ids[i - 1]!);
      if (lost.length + unknown.length + resurrected.length + duplicated.length > 0 || disordered) {
        problems.push(`${where}: lost [${lost}], unknown [${unknown}], acked yet back [${resurrected}], twice [${duplicated}], order [${ids}]`);
      }
    }
  }
  t.same(problems, []);
});
