import { join } from 'node:path';
import type { Logger } from 'pino';
import type { RestoredEntities } from './apply-definitions.js';
import { parseLegacyDefinitions } from './legacy-definitions-file.js';
import { holdsAnyRecord, type JournalDefinitions, recoverDefinitions, segmentNumbers } from './definitions-recovery.js';
import { MissingSegmentError, missingSegments, readNewest } from './segment-manifest.js';
import type { StoreFs } from './store-fs.js';

/** A data directory whose journal cannot be matched with its definitions: refused whole, nothing deleted. */
export class MissingDefinitionsError extends Error {
  constructor(journalDir: string, segments: number) {
    super(
      `the journal in ${journalDir} has ${segments} segment file(s) but none starts with a readable snapshot of the definitions ` +
        '(exchanges, queues, bindings), so its messages cannot be given back to their queues. Refusing to start; nothing was changed. ' +
        'If the directory was restored from a backup, restore its newest segment too.',
    );
    this.name = 'MissingDefinitionsError';
  }
}

const LEGACY_FILE = 'definitions.json';

/**
 * Restores the durable definitions into `restored`: from the journal's
 * newest snapshot and the operations after it, or, for a data directory an
 * earlier version wrote, from its definitions.json. `imported()` is to be
 * called once the journal holds a snapshot of its own: it then renames the
 * old file aside (never deletes it), so it is read only once. `retired`:
 * the segments recovery is to finish deleting.
 */
export async function openDefinitions(
  dataDir: string,
  journalDir: string,
  fs: StoreFs,
  log: Logger,
  restored: RestoredEntities,
  forceRecover: boolean,
): Promise<{ imported(): Promise<void>; readonly retired: ReadonlySet<number> }> {
  const segments = segmentNumbers(journalDir, fs);
  const found = await recoverDefinitions(journalDir, fs, segments, forceRecover);
  checkNoSegmentMissing(journalDir, fs, log, segments, found, forceRecover);
  const nothingToImport = { imported: async () => {}, retired: found?.retiredSegments ?? new Set<number>() };
  if (found !== undefined) {
    restored.restore(found.snapshot);
    for (const [i, op] of found.ops.entries()) {
      try {
        restored.apply(op);
      } catch (err) {
        throw new Error(`the journal in ${journalDir} does not hold together: definition operation ${i + 1} after the newest snapshot (${op.op}) fails: ${(err as Error).message}`);
      }
    }
    return nothingToImport;
  }
  const legacy = join(dataDir, LEGACY_FILE);
  if (fs.exists(legacy)) {
    restored.restore(parseLegacyDefinitions(fs.readFile(legacy), legacy));
    return {
      retired: nothingToImport.retired,
      imported: async () => {
        await fs.rename(legacy, `${legacy}.imported`);
        await fs.syncDir(dataDir);
        log.info({ file: legacy, renamedTo: `${legacy}.imported` }, 'definitions imported into the journal from the file an earlier version kept');
      },
    };
  }
  // A first start cut short before its snapshot was on disk confirmed nothing: recovery cuts the torn segment.
  // A first start, with RabbitMQ's default vhost and user.
  const startEmpty = (): typeof nothingToImport => {
    restored.restore({ nextQueueId: 1, exchanges: [], queues: [], bindings: [], access: undefined });
    return nothingToImport;
  };
  if (!(await holdsAnyRecord(journalDir, fs, segments))) return startEmpty();
  const missing = new MissingDefinitionsError(journalDir, segments.length);
  if (!forceRecover) throw missing;
  // Messages no queue can be named for: the whole journal goes aside and the broker starts empty.
  const aside = `${journalDir}.unmatched-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  await fs.rename(journalDir, aside);
  fs.mkdir(journalDir);
  await fs.syncDir(dataDir);
  log.error({ journal: journalDir, movedTo: aside, why: missing.message }, 'force-recover: a journal without definitions moved aside; starting empty');
  return startEmpty();
}

/** Refuses a journal that has lost a segment it still counts on (see segment-manifest.ts), unless forced. */
function checkNoSegmentMissing(
  journalDir: string,
  fs: StoreFs,
  log: Logger,
  segments: readonly number[],
  found: JournalDefinitions | undefined,
  forceRecover: boolean,
): void {
  const newest = readNewest(journalDir, fs);
  const present = new Set(segments);
  const missing =
    found === undefined
      ? newest !== undefined && !present.has(newest) ? [newest] : []
      : missingSegments(present, found.snapshotSegment, found.listedSegments, found.retiredSegments, newest);
  if (missing.length === 0) return;
  const error = new MissingSegmentError(journalDir, missing);
  if (!forceRecover) throw error;
  log.error({ journal: journalDir, missing }, `force-recover: going on without missing segments; the messages they held are lost (${error.message})`);
}
