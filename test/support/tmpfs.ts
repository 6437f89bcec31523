import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
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
