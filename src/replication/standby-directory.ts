import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { StoreFs } from '../store/store-fs.js';

/** Which journal a promotion starts from. */
export type PromotedJournal = 'in sync' | 'last complete, set aside by a sync cut short' | 'partial sync' | 'not a mirror';

/**
 * A standby's data directory across syncs. Every sync writes a fresh
 * journal; whatever was there before is kept aside, as `journal.previous`,
 * until the new one is complete, so a standby that dies mid-sync still has
 * it. A marker file in `journal/` tells what the journal is: `SYNCING` while
 * a sync writes it, `SYNCED` once that sync completed; no marker, a
 * primary's own journal.
 */
export class StandbyDirectory {
  readonly journal: string;
  private readonly previous: string;
  private readonly syncing: string;
  private readonly synced: string;

  constructor(
    private readonly dataDir: string,
    private readonly fs: StoreFs,
  ) {
    this.journal = join(dataDir, 'journal');
    this.previous = join(dataDir, 'journal.previous');
    this.syncing = join(this.journal, 'SYNCING');
    this.synced = join(this.journal, 'SYNCED');
  }

  /** Whether the journal is a completed sync: what a promotion without --force needs. */
  get complete(): boolean {
    return this.fs.exists(this.synced);
  }

  /** Empties `journal/` for a new sync, keeping what it held aside (a sync cut short held nothing whole). */
  async beginSync(): Promise<void> {
    if (this.fs.exists(this.syncing) || !this.fs.exists(this.journal)) {
      rmSync(this.journal, { recursive: true, force: true });
    } else {
      rmSync(this.previous, { recursive: true, force: true });
      await this.fs.rename(this.journal, this.previous);
    }
    this.fs.mkdir(this.journal);
    await (await this.fs.open(this.syncing, true)).close();
    await this.fs.syncDir(this.journal);
    await this.fs.syncDir(this.dataDir);
  }

  /** The new journal holds everything: it is marked complete, and what was kept aside can go. */
  async endSync(): Promise<void> {
    await this.fs.rename(this.syncing, this.synced);
    await this.fs.syncDir(this.journal);
    rmSync(this.previous, { recursive: true, force: true });
  }

  /**
   * Makes `journal/` what a promoted node recovers from: a completed sync;
   * else (forced) what a sync cut short had set aside; else the partial sync
   * or the node's own journal as it is. The marker goes: it is a primary's
   * journal from now on.
   */
  async prepareForPromotion(): Promise<PromotedJournal> {
    let which: PromotedJournal;
    if (this.complete) {
      which = 'in sync';
    } else if (this.fs.exists(this.syncing) && this.fs.exists(this.previous)) {
      rmSync(this.journal, { recursive: true, force: true });
      await this.fs.rename(this.previous, this.journal);
      which = 'last complete, set aside by a sync cut short';
    } else {
      which = this.fs.exists(this.syncing) ? 'partial sync' : 'not a mirror';
    }
    for (const marker of [this.synced, this.syncing]) if (this.fs.exists(marker)) await this.fs.unlink(marker);
    if (this.fs.exists(this.journal)) await this.fs.syncDir(this.journal);
    await this.fs.syncDir(this.dataDir);
    return which;
  }

  /** The journals whose epoch counts: the current one, and one kept aside. */
  get journals(): string[] {
    return [this.journal, this.previous];
  }
}
