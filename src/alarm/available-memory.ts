import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { posix } from 'node:path';

/** A file's text, or undefined when it cannot be read (which cgroup files exist varies by kernel and setup). */
export type ReadText = (path: string) => string | undefined;

/** The memory the process may use, and what sets it. */
export interface AvailableMemory {
  readonly bytes: number;
  readonly source: 'RAM' | 'cgroup v1' | 'cgroup v2';
}

export const readText: ReadText = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** The smaller of the machine's memory and the process's cgroup memory limit: in a container the limit is what the OOM killer enforces. */
export function availableMemory(read: ReadText = readText, ram: number = totalmem()): AvailableMemory {
  const cgroup = cgroupMemoryLimit(read);
  return cgroup !== undefined && cgroup.bytes < ram ? cgroup : { bytes: ram, source: 'RAM' };
}

/**
 * The memory limit of the process's cgroup, from /proc/self/cgroup and the
 * cgroup file systems at their usual mount points; undefined when there is none.
 * A cgroup v1 memory controller wins over the v2 hierarchy: on hybrid systems
 * the v2 line exists but the memory controller is on v1.
 */
export function cgroupMemoryLimit(read: ReadText): AvailableMemory | undefined {
  const lines = (read('/proc/self/cgroup') ?? '').split('\n').map((line) => /^(\d+):([^:]*):(.*)$/.exec(line));
  const v1 = lines.find((m) => m?.[2]?.split(',').includes('memory'));
  if (v1?.[3] !== undefined) return lowestLimit(read, '/sys/fs/cgroup/memory', v1[3], 'memory.limit_in_bytes', 'cgroup v1');
  const v2 = lines.find((m) => m?.[1] === '0' && m[2] === '');
  if (v2?.[3] !== undefined) return lowestLimit(read, '/sys/fs/cgroup', v2[3], 'memory.max', 'cgroup v2');
  return undefined;
}

/**
 * The smallest limit from the process's cgroup up to the root, since a
 * parent's limit binds its children. Directories missing under the mount are
 * skipped: a container may see its own cgroup mounted as the root.
 */
function lowestLimit(read: ReadText, mount: string, path: string, file: string, source: AvailableMemory['source']): AvailableMemory | undefined {
  let lowest: number | undefined;
  for (let dir = posix.normalize(path); ; dir = posix.dirname(dir)) {
    const bytes = limitBytes(read(posix.join(mount, dir, file)));
    if (bytes !== undefined && (lowest === undefined || bytes < lowest)) lowest = bytes;
    if (dir === '/' || dir === '.') break;
  }
  return lowest === undefined ? undefined : { bytes: lowest, source };
}

/** v2 writes "max" for no limit and v1 a huge page-rounded number (2^63 - 4096 on x86-64); neither is a limit. */
function limitBytes(text: string | undefined): number | undefined {
  const bytes = Number(text?.trim());
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}
