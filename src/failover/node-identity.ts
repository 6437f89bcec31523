import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const FILE = 'node-id';

/**
 * The identity etcd knows this node by: made once per data directory and
 * kept in it, so a node whose directory was wiped (and holds nothing) is
 * never taken for the standby etcd records as in sync.
 */
export function nodeIdentity(dataDir: string): string {
  const path = join(dataDir, FILE);
  try {
    const id = readFileSync(path, 'utf8').trim();
    if (/^[0-9a-f]{16}$/.test(id)) return id;
    throw new Error(`${path} does not hold a node identity (16 hex digits): refusing to guess one; move the file aside to start as a new node`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const id = randomBytes(8).toString('hex');
  mkdirSync(dataDir, { recursive: true });
  const temporary = `${path}.new`;
  const fd = openSync(temporary, 'w');
  try {
    writeSync(fd, `${id}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  const dir = openSync(dataDir, 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
  return id;
}
