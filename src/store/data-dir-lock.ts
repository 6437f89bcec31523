import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Keeps a second broker process off a data directory: a LOCK file holding the
 * owner's PID. A lock left by a process that no longer exists (a crash) is
 * taken over.
 *
 * The file appears with its PID already in it (written under a private name,
 * then hard-linked to LOCK, which fails if LOCK exists), so nobody reads a
 * half-made lock as a stale one. A stale lock is renamed away before it is
 * deleted: of two brokers taking it over at once, only one moves it, and one
 * that moved a lock made meanwhile by a live broker puts it back.
 */
export class DataDirLock {
  private constructor(private readonly path: string) {}

  static acquire(dataDir: string): DataDirLock {
    const path = join(dataDir, 'LOCK');
    const mine = join(dataDir, `LOCK.${process.pid}`);
    writeFileSync(mine, `${process.pid}\n`);
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          linkSync(mine, path);
          return new DataDirLock(path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
        const owner = readOwner(path);
        // Released between our attempt and the read: try again.
        if (owner === undefined) continue;
        if (isRunning(owner)) throw inUse(dataDir, path, owner);
        takeOver(dataDir, path, owner);
      }
    } finally {
      unlinkSync(mine);
    }
    throw new Error(`could not lock data directory ${dataDir}`);
  }

  /** Deletes the lock, unless (after a takeover race) it is no longer ours. */
  release(): void {
    if (readOwner(this.path) !== process.pid) return;
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone: nothing to release.
    }
  }
}

/** Moves a stale lock (held by `staleOwner`) out of the way; refuses if what it moved belongs to a live broker. */
function takeOver(dataDir: string, path: string, staleOwner: number): void {
  const moved = `${path}.stale.${process.pid}`;
  try {
    renameSync(path, moved);
  } catch (err) {
    // Another broker moved it first: the next attempt sees what it left.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const owner = readOwner(moved);
  if (owner !== undefined && owner !== staleOwner && isRunning(owner)) {
    try {
      linkSync(moved, path);
    } finally {
      unlinkSync(moved);
    }
    throw inUse(dataDir, path, owner);
  }
  unlinkSync(moved);
}

function inUse(dataDir: string, path: string, owner: number): Error {
  return new Error(
    `data directory ${dataDir} is in use by another broker (process ${owner}); stop it or choose another --data-dir ` +
      `(if no broker runs there, delete ${path})`,
  );
}

/** The PID in the lock file (NaN if it holds none), or undefined if the file is gone. */
function readOwner(path: string): number | undefined {
  try {
    return Number(readFileSync(path, 'utf8').trim());
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function isRunning(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/** A killed process nobody has reaped yet still answers kill(pid, 0); on Linux /proc tells. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}
