import { pino } from 'pino';
import { writeSnapshot } from '../../src/store/definition-records.js';
import { recoverDefinitions, segmentNumbers } from '../../src/store/definitions-recovery.js';
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
  // Compaction only when a test asks for it: a timer would make the disk changes of a workload vary from run to run.
  // Segments a crash kept after their Retired record are finished off, as the store does.
  const found = await recoverDefinitions(JOURNAL_DIR, fs, segmentNumbers(JOURNAL_DIR, fs), false);
  const journal = await Journal.open(JOURNAL_DIR, fs, log, { compactionLookMs: 0, ...options }, {
    isRetired: (segment) => found?.retiredSegments.has(segment) ?? false,
    isQueue: (id) => queueIds.includes(id),
    restore: (m) => recovered.push(m),
    // The queues are only ids here: every segment starts with an empty snapshot of the definitions.
    writeSnapshot: (e) => writeSnapshot(e, { nextQueueId: Math.max(0, ...queueIds) + 1, exchanges: [], queues: [], bindings: [], access: undefined }),
    onFailure: () => {},
  });
  return { journal, recovered };
}
