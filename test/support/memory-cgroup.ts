import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';

export interface MemoryCgroup {
  readonly version: 'v1' | 'v2';
  /**
   * Runs a command line inside the cgroup: sh writes its own PID to
   * cgroup.procs, then execs the command, which keeps that PID.
   */
  readonly launcher: readonly string[];
}

/**
 * Creates a memory cgroup limited to `bytes` for the test's duration, at the
 * top of the memory hierarchy, beside every other cgroup rather than inside
 * one. Returns why it could not: it needs root and a memory controller that
 * a new cgroup can use.
 */
export function createMemoryCgroup(t: Test, bytes: number): MemoryCgroup | { cannot: string } {
  if (process.getuid?.() !== 0) return { cannot: 'creating a cgroup needs root' };
  const name = `amqp-broker-test-${process.pid}`;
  let where: { dir: string; limitFile: string; version: 'v1' | 'v2' };
  if (existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes')) {
    where = { dir: join('/sys/fs/cgroup/memory', name), limitFile: 'memory.limit_in_bytes', version: 'v1' };
  } else if (readOrEmpty('/sys/fs/cgroup/cgroup.subtree_control').split(/\s+/).includes('memory')) {
    where = { dir: join('/sys/fs/cgroup', name), limitFile: 'memory.max', version: 'v2' };
  } else {
    return { cannot: 'no cgroup v1 memory controller at /sys/fs/cgroup/memory, and the cgroup v2 root does not give memory to its children' };
  }
  const { dir, limitFile, version } = where;
  try {
    mkdirSync(dir);
  } catch (err) {
    return { cannot: `cannot create ${dir}: ${(err as Error).message}` };
  }
  // Registered before the processes that run in it, so it runs after they have been killed.
  t.teardown(() => rmdirSync(dir));
  try {
    writeFileSync(join(dir, limitFile), String(bytes));
  } catch (err) {
    return { cannot: `cannot set ${join(dir, limitFile)}: ${(err as Error).message}` };
  }
  return { version, launcher: ['/bin/sh', '-c', 'echo $$ > "$0" && exec "$@"', join(dir, 'cgroup.procs')] };
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
