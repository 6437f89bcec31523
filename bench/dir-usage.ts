import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface DirUsage {
  /** Allocated on disk, as du counts it (512-byte blocks). */
  readonly diskBytes: number;
  /** Sum of the files' lengths. */
  readonly apparentBytes: number;
  readonly files: number;
}

/** What `du` and `du --apparent-size` would say about a directory tree. */
export async function dirUsage(dir: string): Promise<DirUsage> {
  let diskBytes = 0;
  let apparentBytes = 0;
  let files = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const s = await stat(join(entry.parentPath, entry.name));
    diskBytes += s.blocks * 512;
    if (entry.isFile()) {
      apparentBytes += s.size;
      files++;
    }
  }
  return { diskBytes, apparentBytes, files };
}
