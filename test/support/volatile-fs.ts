import { nodeStoreFs, type StoreFile, type StoreFs } from '../../src/store/store-fs.js';

/**
 * A StoreFs on the real disk whose file writes stay in this process's memory
 * until an fdatasync covers them: a process killed with SIGKILL then loses
 * exactly what a power loss would (file contents not yet synced), which a
 * plain kill -9 cannot show, since the kernel's page cache outlives the
 * process. Every handle on a path shares its unsynced writes, as the page
 * cache does. Directory changes (creations, renames, unlinks) go to the disk
 * at once: this models lost data, not lost directory entries.
 */
export class VolatileFs implements StoreFs {
  private readonly overlays = new Map<string, Overlay>();

  async open(path: string, create: boolean): Promise<StoreFile> {
    // A file made anew (its directory deleted whole, say) starts with nothing unsynced.
    if (!nodeStoreFs.exists(path)) this.overlays.delete(path);
    const file = await nodeStoreFs.open(path, create);
    let overlay = this.overlays.get(path);
    if (overlay === undefined) this.overlays.set(path, (overlay = new Overlay()));
    return new VolatileFile(file, overlay);
  }

  list = nodeStoreFs.list;
  exists = nodeStoreFs.exists;
  mkdir = nodeStoreFs.mkdir;
  readFile = nodeStoreFs.readFile;
  syncDir = nodeStoreFs.syncDir;

  async unlink(path: string): Promise<void> {
    this.overlays.delete(path);
    await nodeStoreFs.unlink(path);
  }

  async rename(from: string, to: string): Promise<void> {
    // Whole directories move too (a standby setting its journal aside): their files' overlays go with them.
    for (const [path, overlay] of [...this.overlays]) {
      if (path !== from && !path.startsWith(`${from}/`)) continue;
      this.overlays.delete(path);
      this.overlays.set(to + path.slice(from.length), overlay);
    }
    await nodeStoreFs.rename(from, to);
  }
}

/** A file's writes not yet covered by an fdatasync. */
class Overlay {
  pending: { readonly data: Buffer; readonly position: number }[] = [];

  get end(): number {
    let end = 0;
    for (const w of this.pending) end = Math.max(end, w.position + w.data.length);
    return end;
  }
}

class VolatileFile implements StoreFile {
  constructor(
    private readonly file: StoreFile,
    private readonly overlay: Overlay,
  ) {}

  async write(data: Buffer, position: number): Promise<void> {
    this.overlay.pending.push({ data: Buffer.from(data), position });
  }

  async datasync(): Promise<void> {
    const pending = this.overlay.pending;
    this.overlay.pending = [];
    for (const w of pending) await this.file.write(w.data, w.position);
    await this.file.datasync();
  }

  readSync(target: Buffer, position: number): number {
    let read = this.file.readSync(target, position);
    for (const w of this.overlay.pending) {
      const from = Math.max(position, w.position);
      const to = Math.min(position + target.length, w.position + w.data.length);
      if (from >= to) continue;
      w.data.copy(target, from - position, from - w.position, to - w.position);
      read = Math.max(read, to - position);
    }
    return read;
  }

  async truncate(length: number): Promise<void> {
    // Rare (recovery, a rewound page file): made durable on the spot rather than modelled.
    await this.datasync();
    await this.file.truncate(length);
  }

  size(): number {
    return Math.max(this.file.size(), this.overlay.end);
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
