import type { StoreFile } from './store-fs.js';

/**
 * A write that found no space can be tried again: nothing of it was synced.
 * A failed fdatasync cannot: the kernel may have dropped the pages it could
 * not write and marked them clean, so the data is in doubt and only a
 * restart, reading back what is on disk, tells what survived.
 */
export function isRetryableWriteFailure(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return (code === 'ENOSPC' || code === 'EDQUOT') && !(err as { duringSync?: boolean }).duringSync;
}

/** fdatasync, its failure marked as one no retry can mend. */
export function datasync(file: StoreFile): Promise<void> {
  return syncFailure(file.datasync());
}

export function syncFailure(sync: Promise<void>): Promise<void> {
  return sync.catch((err: unknown) => {
    throw Object.assign(err as Error, { duringSync: true });
  });
}
