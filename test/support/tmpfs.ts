import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';

/**
 * Mounts a tmpfs of `mib` MiB on a new temporary directory until the test
 * ends: a small file system a test can fill. Returns the directory, or why it
 * could not (mounting needs root).
 */
export function mountTmpfs(t: Test, mib: number): { dir: string } | { cannot: string } {
  if (process.getuid?.() !== 0) return { cannot: 'mounting a tmpfs needs root' };
  const dir = mkdtempSync(join(tmpdir(), 'tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmdirSync(dir);
    return { cannot: `mount -t tmpfs failed: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}` };
  }
  // Registered first, so it runs last: after the broker using the directory has closed.
  t.teardown(() => {
    try {
      execFileSync('umount', [dir], { stdio: 'pipe' });
    } catch {
      // Still busy (a test that failed half-way): detach it now, the kernel frees it when unused.
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    }
    rmdirSync(dir);
  });
  return { dir };
}

const MIB = 1024 * 1024;

/** Fills the file system with a ballast file; returns a function that frees it. */
export function fillDisk(dir: string): () => void {
  const ballast = join(dir, 'ballast');
  // A tmpfs refuses a write past its size: write until it does.
  for (let i = 0; i < 1000; i++) {
    try {
      writeFileSync(join(dir, `ballast-${i}`), Buffer.alloc(MIB));
    } catch {
      break;
    }
  }
  writeFileSync(ballast, '');
  return () => {
    for (let i = 0; i < 1000; i++) {
      try {
        unlinkSync(join(dir, `ballast-${i}`));
      } catch {
        break;
      }
    }
  };
}
