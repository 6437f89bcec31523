import type { StoreFile, StoreFs } from '../../src/store/store-fs.js';

/**
 * An in-memory StoreFs that models a power loss: crash() keeps, for every
 * file, what the last completed datasync covered, plus (when `keepSomeUnsynced`)
 * a random subset of the later writes in random order, the last one possibly
 * torn. Files created since the last directory sync may vanish. A kill -9
 * keeps the page cache and so cannot show a missing fdatasync; this can.
 */
interface FileState {
  current: Buffer;
  durable: Buffer;
  unsynced: { data: Buffer; position: number }[];
  /** Created (or re-created) since the directory was last synced. */
  entryDurable: boolean;
}

export class CrashFs implements StoreFs {
  private files = new Map<string, FileState>();
  /** Counts datasync calls: a test can crash after the Nth. */
  syncs = 0;

  constructor(private readonly random: () => number = Math.random) {}

  async open(path: string, create: boolean): Promise<StoreFile> {
    let state = this.files.get(path);
    if (state === undefined) {
      if (!create) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      state = { current: Buffer.alloc(0), durable: Buffer.alloc(0), unsynced: [], entryDurable: false };
      this.files.set(path, state);
    }
    return new CrashFile(this, path);
  }

  state(path: string): FileState {
    const s = this.files.get(path);
    if (s === undefined) throw new Error(`ENOENT: ${path}`);
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
    this.files.delete(path);
  }

  replaceFile(path: string, data: Buffer): void {
    this.files.set(path, { current: Buffer.from(data), durable: Buffer.from(data), unsynced: [], entryDurable: true });
  }

  readFile(path: string): Buffer {
    return Buffer.from(this.state(path).current);
  }

  async syncDir(dir: string): Promise<void> {
    for (const [path, s] of this.files) if (path.startsWith(dir)) s.entryDurable = true;
  }

  /**
   * The power goes out: every file falls back to its synced content (plus,
   * optionally, some unsynced writes). Open handles must not be used after.
   */
  crash(keepSomeUnsynced: boolean): void {
    const after = new Map<string, FileState>();
    for (const [path, s] of this.files) {
      if (!s.entryDurable) continue;
      let content: Buffer = Buffer.from(s.durable);
      if (keepSomeUnsynced) {
        for (const w of shuffle(s.unsynced.filter(() => this.random() < 0.5), this.random)) {
          const torn = this.random() < 0.3 ? w.data.subarray(0, Math.floor(this.random() * w.data.length)) : w.data;
          content = writeAt(content, torn, w.position);
        }
      }
      after.set(path, { current: content, durable: Buffer.from(content), unsynced: [], entryDurable: true });
    }
    this.files = after;
  }
}

class CrashFile implements StoreFile {
  constructor(
    private readonly fs: CrashFs,
    private readonly path: string,
  ) {}

  async write(data: Buffer, position: number): Promise<void> {
    const s = this.fs.state(this.path);
    s.current = writeAt(s.current, data, position);
    s.unsynced.push({ data: Buffer.from(data), position });
  }

  async datasync(): Promise<void> {
    const s = this.fs.state(this.path);
    s.durable = Buffer.from(s.current);
    s.unsynced = [];
    this.fs.syncs++;
  }

  readSync(target: Buffer, position: number): number {
    return this.fs.state(this.path).current.copy(target, 0, position);
  }

  async truncate(length: number): Promise<void> {
    const s = this.fs.state(this.path);
    s.current = Buffer.from(s.current.subarray(0, length));
    s.unsynced.push({ data: Buffer.alloc(0), position: length });
  }

  size(): number {
    return this.fs.state(this.path).current.length;
  }

  async close(): Promise<void> {}
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
