import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';

/**
 * The file operations the store uses, behind one interface so a test can
 * substitute a file system that forgets every write not covered by a
 * completed fdatasync at a simulated power loss.
 */
export interface StoreFile {
  /** Writes at a position; resolves once the bytes are in the OS (not yet durable). */
  write(data: Buffer, position: number): Promise<void>;
  /** Makes every completed write durable. */
  datasync(): Promise<void>;
  /** Synchronous positioned read (the page cache makes it cheap; used for recovery and reads of stored bodies). */
  readSync(target: Buffer, position: number): number;
  truncate(length: number): Promise<void>;
  size(): number;
  close(): Promise<void>;
}

export interface StoreFs {
  /** Opens for reading and writing, creating the file if `create`. */
  open(path: string, create: boolean): Promise<StoreFile>;
  list(dir: string): string[];
  exists(path: string): boolean;
  mkdir(dir: string): void;
  unlink(path: string): Promise<void>;
  /** Renames a file; durable once its directory is synced. */
  rename(from: string, to: string): Promise<void>;
  readFile(path: string): Buffer;
  /** Makes directory entries (new files, renames, unlinks) durable. */
  syncDir(dir: string): Promise<void>;
}

class NodeStoreFile implements StoreFile {
  constructor(private readonly handle: fsp.FileHandle) {}

  async write(data: Buffer, position: number): Promise<void> {
    let written = 0;
    while (written < data.length) {
      const { bytesWritten } = await this.handle.write(data, written, data.length - written, position + written);
      written += bytesWritten;
    }
  }

  datasync(): Promise<void> {
    return this.handle.datasync();
  }

  readSync(target: Buffer, position: number): number {
    return fs.readSync(this.handle.fd, target, 0, target.length, position);
  }

  truncate(length: number): Promise<void> {
    return this.handle.truncate(length);
  }

  size(): number {
    return fs.fstatSync(this.handle.fd).size;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

export const nodeStoreFs: StoreFs = {
  async open(path, create) {
    return new NodeStoreFile(await fsp.open(path, create ? fs.constants.O_RDWR | fs.constants.O_CREAT : fs.constants.O_RDWR));
  },
  list: (dir) => fs.readdirSync(dir),
  exists: (path) => fs.existsSync(path),
  mkdir: (dir) => void fs.mkdirSync(dir, { recursive: true }),
  unlink: (path) => fsp.unlink(path),
  rename: (from, to) => fsp.rename(from, to),
  readFile: (path) => fs.readFileSync(path),
  async syncDir(dir) {
    const handle = await fsp.open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
};
