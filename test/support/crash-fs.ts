import type { StoreFile, StoreFs } from '../../src/store/store-fs.js';

/**
 * An in-memory StoreFs that models a power loss: crash() keeps, for every
 * file, what the last completed datasync covered, plus (when `keepSomeUnsynced`)
 * a random subset of the later writes and truncations in random order, the
 * last one possibly torn at a sector boundary. Directory entries not yet made durable by a
 * directory sync (new files, unlinks) may or may not survive. A kill -9 keeps
 * the page cache and so cannot show a missing fdatasync; this can.
 *
 * Every crash starts a new boot: files opened before it, and views from
 * mount() before it, fail with EIO from then on, so a broker that was
 * "running" during the power loss cannot write into the next boot's disk.
 */
interface FileState {
  current: Buffer;
  durable: Buffer;
  unsynced: Unsynced[];
  /** The directory entry survives a crash (created, or re-created, before the last directory sync). */
  entryDurable: boolean;
}

type Unsynced = { readonly kind: 'write'; readonly data: Buffer; readonly position: number } | { readonly kind: 'truncate'; readonly length: number };

export class CrashFs implements StoreFs {
  private files = new Map<string, FileState>();
  /** Unlinked since their directory was last synced: a crash may bring them back. */
  private unlinked = new Map<string, FileState>();
  private boot = 0;
  private armed: { remaining: number; keepSomeUnsynced: boolean; crashed: () => void } | undefined;
  /** Counts datasync calls: a test can crash after the Nth. */
  syncs = 0;
  /** Counts the operations that change the disk (writes, truncations, syncs, creations, unlinks). */
  changes = 0;
  /** A slow disk: each datasync takes this long, so a reply sent before it finishes can be caught. */
  syncDelayMs = 0;

  constructor(private readonly random: () => number = Math.random) {}

  async open(path: string, create: boolean): Promise<StoreFile> {
    return this.openIn(this.boot, path, create);
  }

  state(path: string): FileState {
    const s = this.files.get(path);
    if (s === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return s;
  }

  list(dir: string): string[] {
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    return [...this.files.keys()].filter((p) => p.startsWith(prefix) && !p.slice(prefix.length).includes('/')).map((p) => p.slice(prefix.length));
  }

  exists(path: string): boolean {
    return this.files.has(path);
  }

  mkdir(): void {}

  async unlink(path: string): Promise<void> {
    this.change();
    const s = this.state(path);
    this.files.delete(path);
    if (s.entryDurable) this.unlinked.set(path, s);
  }

  replaceFile(path: string, data: Buffer): void {
    this.change();
    this.files.set(path, { current: Buffer.from(data), durable: Buffer.from(data), unsynced: [], entryDurable: true });
    this.unlinked.delete(path);
  }

  /** The new name lasts only once the directory is synced; until then a crash may bring the old one back. */
  async rename(from: string, to: string): Promise<void> {
    this.change();
    const s = this.state(from);
    this.files.delete(from);
    this.unlinked.set(from, s);
    this.files.set(to, s);
    s.entryDurable = false;
  }

  readFile(path: string): Buffer {
    return Buffer.from(this.state(path).current);
  }

  async syncDir(dir: string): Promise<void> {
    this.change();
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    for (const [path, s] of this.files) if (path.startsWith(prefix)) s.entryDurable = true;
    for (const path of this.unlinked.keys()) if (path.startsWith(prefix)) this.unlinked.delete(path);
  }

  /** A view of the disk for the current boot: after the next crash every operation through it fails with EIO. */
  mount(): StoreFs {
    const boot = this.boot;
    const alive = (): void => {
      if (this.boot !== boot) throw eio('the machine lost power');
    };
    return {
      open: async (path, create) => (alive(), this.openIn(boot, path, create)),
      list: (dir) => (alive(), this.list(dir)),
      exists: (path) => (alive(), this.exists(path)),
      mkdir: () => alive(),
      unlink: async (path) => (alive(), this.unlink(path)),
      rename: async (from, to) => (alive(), this.rename(from, to)),
      readFile: (path) => (alive(), this.readFile(path)),
      syncDir: async (dir) => (alive(), this.syncDir(dir)),
    };
  }

  /**
   * Arms a power loss at the `afterChanges`-th disk change from now: that
   * operation fails with EIO without taking effect, and `crashed` resolves.
   */
  crashAt(afterChanges: number, keepSomeUnsynced: boolean): Promise<void> {
    return new Promise((crashed) => {
      this.armed = { remaining: afterChanges, keepSomeUnsynced, crashed };
    });
  }

  /**
   * The power goes out: every file falls back to its synced content (plus,
   * optionally, some unsynced changes). Open handles and mounts die.
   */
  crash(keepSomeUnsynced: boolean): void {
    const after = new Map<string, FileState>();
    const keep = (): boolean => keepSomeUnsynced && this.random() < 0.5;
    for (const [path, s] of this.unlinked) if (!keep()) this.files.set(path, s);
    for (const [path, s] of this.files) {
      if (!s.entryDurable && !keep()) continue;
      let content: Buffer = Buffer.from(s.durable);
      for (const change of shuffle(s.unsynced.filter(keep), this.random)) content = applyUnsynced(content, change, this.random);
      after.set(path, { current: content, durable: Buffer.from(content), unsynced: [], entryDurable: true });
    }
    this.files = after;
    this.unlinked = new Map();
    this.armed = undefined;
    this.boot++;
  }

  /** Counts a change to the disk; throws (after crashing) when it is the armed one. */
  change(): void {
    this.changes++;
    const armed = this.armed;
    if (armed === undefined || --armed.remaining > 0) return;
    this.crash(armed.keepSomeUnsynced);
    armed.crashed();
    throw eio('the machine lost power');
  }

  checkBoot(boot: number): void {
    if (boot !== this.boot) throw eio('the machine lost power');
  }

  private async openIn(boot: number, path: string, create: boolean): Promise<StoreFile> {
    this.checkBoot(boot);
    if (!this.files.has(path)) {
      if (!create) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      this.change();
      this.files.set(path, { current: Buffer.alloc(0), durable: Buffer.alloc(0), unsynced: [], entryDurable: false });
    }
    return new CrashFile(this, path, boot);
  }
}

class CrashFile implements StoreFile {
  constructor(
    private readonly fs: CrashFs,
    private readonly path: string,
    private readonly boot: number,
  ) {}

  async write(data: Buffer, position: number): Promise<void> {
    this.live();
    this.fs.change();
    const s = this.fs.state(this.path);
    s.current = writeAt(s.current, data, position);
    s.unsynced.push({ kind: 'write', data: Buffer.from(data), position });
  }

  async datasync(): Promise<void> {
    if (this.fs.syncDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.fs.syncDelayMs));
    this.live();
    this.fs.change();
    const s = this.fs.state(this.path);
    s.durable = Buffer.from(s.current);
    s.unsynced = [];
    this.fs.syncs++;
  }

  readSync(target: Buffer, position: number): number {
    this.live();
    const current = this.fs.state(this.path).current;
    return position >= current.length ? 0 : current.copy(target, 0, position);
  }

  async truncate(length: number): Promise<void> {
    this.live();
    this.fs.change();
    const s = this.fs.state(this.path);
    s.current = Buffer.from(s.current.subarray(0, length));
    s.unsynced.push({ kind: 'truncate', length });
  }

  size(): number {
    this.live();
    return this.fs.state(this.path).current.length;
  }

  async close(): Promise<void> {}

  private live(): void {
    this.fs.checkBoot(this.boot);
  }
}

function eio(why: string): Error {
  return Object.assign(new Error(`EIO: ${why}`), { code: 'EIO' });
}

/** Disks write a sector whole or not at all: a write torn by a power loss ends at a sector boundary. */
const SECTOR_SIZE = 512;

function applyUnsynced(content: Buffer, change: Unsynced, random: () => number): Buffer {
  if (change.kind === 'truncate') return Buffer.from(content.subarray(0, change.length));
  return writeAt(content, random() < 0.3 ? tornAtSector(change, random) : change.data, change.position);
}

/** The part of a write before a sector boundary it crosses, picked at random; all of it when it crosses none. */
function tornAtSector(change: { readonly data: Buffer; readonly position: number }, random: () => number): Buffer {
  const firstBoundary = Math.ceil((change.position + 1) / SECTOR_SIZE) * SECTOR_SIZE;
  const end = change.position + change.data.length;
  if (firstBoundary >= end) return change.data;
  const boundaries = Math.floor((end - 1 - firstBoundary) / SECTOR_SIZE) + 1;
  const cut = firstBoundary + Math.floor(random() * boundaries) * SECTOR_SIZE;
  return change.data.subarray(0, cut - change.position);
}

function writeAt(content: Buffer, data: Buffer, position: number): Buffer {
  const out = Buffer.alloc(Math.max(content.length, position + data.length));
  content.copy(out);
  data.copy(out, position);
  return out;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
