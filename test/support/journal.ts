import { pino } from 'pino';
import { Journal, type JournalOptions } from '../../src/store/journal.js';
import type { RecoveredMessage } from '../../src/store/recovery.js';
import type { StoreFs } from '../../src/store/store-fs.js';

/** Where the journal tests keep their journal on the in-memory disk. */
export const JOURNAL_DIR = '/data/journal';

/**
 * Opens a journal on `fs` for queues `queueIds`, collecting what it
 * recovers. A journal still running when the power goes fails with EIO: that
 * is expected, and the tests look at the next boot, so failures are ignored.
 */
export async function openJournal(
  fs: StoreFs,
  options: JournalOptions,
  queueIds: readonly number[],
): Promise<{ journal: Journal; recovered: RecoveredMessage[] }> {
  const recovered: RecoveredMessage[] = [];
  const log = pino({ level: 'silent' });
  const journal = await Journal.open(JOURNAL_DIR, fs, log, options, (id) => queueIds.includes(id), (m) => recovered.push(m), () => {});
  return { journal, recovered };
}
