import t from 'tap';
import { ACK_ENTRY_SIZE, AckType, writeAckEntry } from '../../src/store/ack-entry.js';
import { type DurabilityWaiter, Journal, type StoredLocation } from '../../src/store/journal.js';
import { encodeSegmentHeader, encodeSyncedMarker, SEGMENT_HEADER_SIZE, SegmentKind, SYNCED_MARKER_OFFSET } from '../../src/store/segment-header.js';
import { CrashFs } from '../support/crash-fs.js';
import { JOURNAL_DIR, openJournal } from '../support/journal.js';
import { seeded } from '../support/seeded-random.js';

// The journal's files cut or damaged at every place a crash or a bad disk can leave them.

const DIR = JOURNAL_DIR;
const BIG = { segmentSize: 1 << 20, epoch: 1 };
const SMALL = { segmentSize: 600, epoch: 1 };
const file = (segment: number, kind: 'msgs' | 'acks'): string => `${DIR}/${String(segment).padStart(10, '0')}.${kind}`;
const body = (i: number): Buffer => Buffer.from(`message ${i};`.repeat(1 + (i % 7)));
const idOf = (b: Buffer): number => Number(/^message (\d+);/.exec(b.toString())?.[1]);

type Options = typeof BIG;

const open = (fs: CrashFs, options: Options = BIG) => openJournal(fs, options, [1]);

/** The message ids a fresh open of `fs` recovers, in order; throws what open() throws. */
async function recoveredIds(fs: CrashFs, options: Options = BIG): Promise<{ ids: number[]; journal: Journal }> {
  const { journal, recovered } = await open(fs, options);
  return { ids: recovered.map((m) => idOf(journal.read(m).body)), journal };
}

/** A journal of `count` messages for queue 1, flushed; returns the disk, where each record went, and the bytes of every file. */
async function generate(count: number, options: Options = BIG) {
  const fs = new CrashFs();
  const { journal } = await open(fs, options);
  const locations: StoredLocation[] = [];
  for (let i = 1; i <= count; i++) locations.push(journal.append([1], 'ex', 'k', Buffer.from([0, 0]), body(i)));
  await journal.flush();
  return { fs, journal, locations };
}

/** A disk holding exactly these files, synced. */
function diskWith(files: ReadonlyMap<string, Buffer>, random?: () => number): CrashFs {
  const fs = new CrashFs(random);
  for (const [path, bytes] of files) fs.replaceFile(path, bytes);
  return fs;
}

const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

t.test('a .msgs file cut at any byte keeps exactly the whole records before the cut, and appends continue', async (t) => {
  const { fs, locations } = await generate(6);
  const bytes = fs.readFile(file(1, 'msgs'));
  const ends = [...locations.slice(1).map((l) => l.offset), bytes.length];
  // What the header says was synced (the snapshot): a cut there is damage to synced data, not a torn tail.
  const synced = bytes.readUInt32BE(SYNCED_MARKER_OFFSET);
  t.equal(synced, locations[0]!.offset, 'the marker covers what the commit before the records made durable');
  const problems: string[] = [];
  for (let cut = 0; cut <= bytes.length; cut++) {
    const expected = range(1, ends.filter((end) => end <= cut).length);
    const disk = diskWith(new Map([[file(1, 'msgs'), bytes.subarray(0, cut)]]));
    if (cut >= SEGMENT_HEADER_SIZE && cut < synced) {
      await recoveredIds(disk).then(
        () => problems.push(`cut at ${cut}, below the synced length: opened`),
        (err: Error) => err.name !== 'JournalCorruptError' && problems.push(`cut at ${cut}: ${err.message}`),
      );
      continue;
    }
    const { ids, journal } = await recoveredIds(disk);
    if (ids.join() !== expected.join()) problems.push(`cut at ${cut}: recovered [${ids.join()}], expected [${expected.join()}]`);
    journal.append([1], 'ex', 'k', Buffer.from([0, 0]), body(99));
    await journal.flush();
    disk.crash(false);
    const again = (await recoveredIds(disk)).ids;
    if (again.join() !== [...expected, 99].join()) problems.push(`cut at ${cut}, then an append: recovered [${again.join()}]`);
  }
  t.same(problems, [], `all ${bytes.length + 1} cuts`);
});

t.test('a damaged record in the last segment ends the journal there', async (t) => {
  const { fs, locations } = await generate(6);
  const bytes = fs.readFile(file(1, 'msgs'));
  const problems: string[] = [];
  for (const [k, { offset }] of locations.entries()) {
    const end = locations[k + 1]?.offset ?? bytes.length;
    // The length field, the checksum, the sequence number, the body, the last byte.
    for (const at of [offset, offset + 3, offset + 5, offset + 10, Math.floor((offset + end) / 2), end - 1]) {
      const damaged = Buffer.from(bytes);
      damaged[at]! ^= 0x5a;
      const { ids } = await recoveredIds(diskWith(new Map([[file(1, 'msgs'), damaged]])));
      if (ids.join() !== range(1, k).join()) problems.push(`byte ${at} of record ${k + 1}: recovered [${ids.join()}]`);
    }
  }
  t.same(problems, []);
});

t.test('damage in a sealed segment refuses the open, naming the file and the offset', async (t) => {
  const { fs, locations } = await generate(20, SMALL);
  const files = new Map(fs.list(DIR).map((name) => [`${DIR}/${name}`, fs.readFile(`${DIR}/${name}`)]));
  t.ok(files.size >= 3, `several segments: ${[...files.keys()].join(', ')}`);
  const second = locations.filter((l) => l.segment === 1)[1]!;
  const sealed = files.get(file(1, 'msgs'))!;

  const garbled = Buffer.from(sealed);
  garbled[second.offset + 20]! ^= 0xff;
  await t.rejects(recoveredIds(diskWith(new Map([...files, [file(1, 'msgs'), garbled]])), SMALL), {
    name: 'JournalCorruptError',
    message: new RegExp(`${file(1, 'msgs')} is damaged at offset ${second.offset}: checksum mismatch`),
  });

  const cut = sealed.subarray(0, second.offset + 7);
  await t.rejects(recoveredIds(diskWith(new Map([...files, [file(1, 'msgs'), cut]])), SMALL), {
    message: new RegExp(`${file(1, 'msgs')} is damaged at offset ${second.offset}`),
  });

  const zeroed = Buffer.from(sealed);
  zeroed.fill(0, second.offset, second.offset + 8);
  await t.rejects(recoveredIds(diskWith(new Map([...files, [file(1, 'msgs'), zeroed]])), SMALL), {
    message: new RegExp(`${file(1, 'msgs')} is damaged at offset ${second.offset}`),
  }, 'zeros where a record should be are damage too, not the end of a sealed segment');

  const badHeader = Buffer.from(sealed);
  badHeader[0] = 0;
  await t.rejects(recoveredIds(diskWith(new Map([...files, [file(1, 'msgs'), badHeader]])), SMALL), {
    message: new RegExp(`${file(1, 'msgs')} is damaged at offset 0: not a journal file`),
  });

  t.same((await recoveredIds(diskWith(files), SMALL)).ids, range(1, 20), 'the undamaged files open');
});

t.test('an .acks file cut at any byte applies exactly the whole entries before the cut, and later acks still count', async (t) => {
  const { fs, journal, locations } = await generate(6);
  for (const l of locations.slice(0, 4)) journal.removed(1, l);
  await journal.flush();
  const msgs = fs.readFile(file(1, 'msgs'));
  const acks = fs.readFile(file(1, 'acks'));
  t.equal(acks.length, SEGMENT_HEADER_SIZE + 4 * ACK_ENTRY_SIZE);
  const problems: string[] = [];
  for (let cut = 0; cut <= acks.length; cut++) {
    const removed = cut < SEGMENT_HEADER_SIZE ? 0 : Math.floor((cut - SEGMENT_HEADER_SIZE) / ACK_ENTRY_SIZE);
    const disk = diskWith(new Map([[file(1, 'msgs'), msgs], [file(1, 'acks'), acks.subarray(0, cut)]]));
    const { journal: reopened, recovered } = await open(disk);
    const ids = recovered.map((m) => idOf(reopened.read(m).body));
    if (ids.join() !== range(removed + 1, 6).join()) problems.push(`cut at ${cut}: recovered [${ids.join()}]`);
    reopened.removed(1, recovered.at(-1)!);
    await reopened.flush();
    disk.crash(false);
    const again = (await recoveredIds(disk)).ids;
    if (again.join() !== range(removed + 1, 5).join()) problems.push(`cut at ${cut}, then an ack: recovered [${again.join()}]`);
  }
  t.same(problems, [], `all ${acks.length + 1} cuts`);
});

t.test('an ack entry for a record the crash lost does not remove a later message', async (t) => {
  const { fs, journal, locations } = await generate(4);
  journal.removed(1, locations[3]!);
  await journal.flush();
  // The .acks write reached the disk, the record it names did not (they were in one commit, so the marker stops before the record).
  const msgs = Buffer.from(fs.readFile(file(1, 'msgs')).subarray(0, locations[3]!.offset));
  encodeSyncedMarker(1, locations[3]!.offset).copy(msgs, SYNCED_MARKER_OFFSET);
  const disk = diskWith(new Map([[file(1, 'msgs'), msgs], [file(1, 'acks'), fs.readFile(file(1, 'acks'))]]));
  const { journal: reopened, ids } = await recoveredIds(disk);
  t.same(ids, [1, 2, 3]);
  reopened.append([1], 'ex', 'k', Buffer.from([0, 0]), body(5));
  await reopened.flush();
  disk.crash(false);
  t.same((await recoveredIds(disk)).ids, [1, 2, 3, 5], 'the new message is still there');
});

t.test('an .acks file left behind by an interrupted segment deletion is ignored', async (t) => {
  const { fs, journal, locations } = await generate(12, SMALL);
  const firstSegment = locations.filter((l) => l.segment === 1);
  for (const l of firstSegment) journal.removed(1, l);
  await journal.flush();
  const files = new Map(fs.list(DIR).map((name) => [`${DIR}/${name}`, fs.readFile(`${DIR}/${name}`)]));
  t.notOk(files.has(file(1, 'msgs')), 'the emptied segment was deleted');
  // The .msgs unlink reached the disk, the .acks one did not.
  const orphan = Buffer.alloc(SEGMENT_HEADER_SIZE + firstSegment.length * ACK_ENTRY_SIZE);
  encodeSegmentHeader(SegmentKind.Acks, 1).copy(orphan);
  for (const [i, l] of firstSegment.entries()) writeAckEntry(orphan, SEGMENT_HEADER_SIZE + i * ACK_ENTRY_SIZE, AckType.Removed, 1, l.offset);
  const disk = diskWith(new Map([...files, [file(1, 'acks'), orphan]]));
  t.same((await recoveredIds(disk, SMALL)).ids, range(firstSegment.length + 1, 12));
  t.notOk(disk.exists(file(1, 'acks')), 'and removed');
});

class Confirms implements DurabilityWaiter {
  readonly acked = new Set<number>();
  settle(seq: number, ok: boolean): void {
    if (ok) this.acked.add(seq);
  }
}

/**
 * Appends, acks and rotations with a flush after each step; stops at the
 * first failure. Returns what was confirmed and which removals were durable.
 */
async function workload(journal: Journal, confirms: Confirms): Promise<{ published: number; removed: Set<number>; durablyRemoved: Set<number> }> {
  const locations = new Map<number, StoredLocation>();
  const removed = new Set<number>();
  const durablyRemoved = new Set<number>();
  let published = 0;
  for (let step = 0; step < 10 && journal.failure === undefined; step++) {
    const removing: number[] = [];
    for (let i = 0; i < 3; i++) {
      published++;
      locations.set(published, journal.append([1], 'ex', 'k', Buffer.from([0, 0]), body(published), confirms, published));
    }
    // Ack the oldest two still held: whole segments empty out and are deleted.
    for (const [id, location] of [...locations].slice(0, 2)) {
      journal.removed(1, location);
      locations.delete(id);
      removed.add(id);
      removing.push(id);
    }
    await journal.flush();
    if (journal.failure === undefined) for (const id of removing) durablyRemoved.add(id);
  }
  return { published, removed, durablyRemoved };
}

t.test('a power loss at every disk change of a workload loses nothing confirmed and recovers nothing damaged', async (t) => {
  const dry = new CrashFs();
  await workload((await open(dry, SMALL)).journal, new Confirms());
  t.ok(dry.changes > 50, `the workload makes ${dry.changes} changes`);
  const problems: string[] = [];
  for (let point = 1; point <= dry.changes; point++) {
    for (const [seed, keep] of [[1, false], [2, true], [3, true], [4, true]] as const) {
      const fs = new CrashFs(seeded(seed * 1000 + point));
      const crashed = fs.crashAt(point, keep);
      const confirms = new Confirms();
      // Opening writes the first snapshot of the definitions: a crash there fails the open, with nothing published.
      const opened = await open(fs, SMALL).catch(() => undefined);
      const nothing = { published: 0, removed: new Set<number>(), durablyRemoved: new Set<number>() };
      const { published, removed, durablyRemoved } = opened === undefined ? nothing : await workload(opened.journal, confirms);
      await crashed;
      const where = `crash at change ${point} (seed ${seed}, keep ${keep})`;
      let ids: number[];
      try {
        ({ ids } = await recoveredIds(fs, SMALL));
      } catch (err) {
        problems.push(`${where}: open failed: ${(err as Error).message}`);
        continue;
      }
      // A removal the crash interrupted may or may not have landed.
      const lost = [...confirms.acked].filter((id) => !removed.has(id) && !ids.includes(id));
      const unknown = ids.filter((id) => !(id >= 1 && id <= published));
      const resurrected = ids.filter((id) => durablyRemoved.has(id));
      if (lost.length + unknown.length + resurrected.length > 0) problems.push(`${where}: lost [${lost}], unknown [${unknown}], acked yet back [${resurrected}]`);
      // The next boot writes on: a third boot sees both.
      const next = await open(fs, SMALL);
      next.journal.append([1], 'ex', 'k', Buffer.from([0, 0]), body(1000));
      await next.journal.flush();
      fs.crash(false);
      const third = (await recoveredIds(fs, SMALL)).ids;
      if (third.join() !== [...ids, 1000].join()) problems.push(`${where}: after another boot [${third.join()}], expected [${[...ids, 1000].join()}]`);
    }
  }
  t.same(problems, []);
});
