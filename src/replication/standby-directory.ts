import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { StoreFs } from '../store/store-fs.js';

/** Which journal a promotion starts from. */
export type PromotedJournal = 'in sync' | 'last complete, set aside by a sync cut short' | 'partial sync' | 'not a mirror';

/** The journal a promotion of this node would start from, and the newest epoch it holds. */
export interface PromotionSource {
  readonly kind: PromotedJournal;
  readonly epoch: number;
}

/**
 * A standby's data directory across syncs. Every sync writes a fresh
 * journal; whatever was there before is kept aside, as `journal.previous`,
 * until the new one is complete, so a standby that dies mid-sync still has
 * it. A marker file in `journal/` tells what the journal is: `SYNCING` while
 * a sync writes it, `SYNCED` once that sync completed; no marker, a
 * primary's own journal. Every step is a rename of a whole directory made
 * durable before the next, so a crash between any two leaves either the old
 * state or the new, never a `journal/` that is not what its marker says.
 */
export class StandbyDirectory {
  readonly journal: string;
  private readonly previous: string;
  /** Where a new journal is made ready (marked SYNCING) before it takes the journal's place. */
  private readonly fresh: string;
  /** Where a journal given up goes before it is deleted. */
  private readonly discarded: string;
  private readonly syncing: string;
  private readonly synced: string;

  constructor(
    private readonly dataDir: string,
    private readonly fs: StoreFs,
  ) {
    this.journal = join(dataDir, 'journal');
    this.previous = join(dataDir, 'journal.previous');
    this.fresh = join(dataDir, 'journal.new');
    this.discarded = join(dataDir, 'journal.discarded');
    this.syncing = join(this.journal, 'SYNCING');
    this.synced = join(this.journal, 'SYNCED');
  }

  /** Whether the journal is a completed sync: what a promotion without --force needs. */
  get complete(): boolean {
    return this.fs.exists(this.synced);
  }

  /** Puts an empty journal, marked SYNCING, in `journal/`, keeping what it held aside (a sync cut short held nothing whole). */
  async beginSync(): Promise<void> {
    rmSync(this.fresh, { recursive: true, force: true });
    this.fs.mkdir(this.fresh);
    await (await this.fs.open(join(this.fresh, 'SYNCING'), true)).close();
    await this.fs.syncDir(this.fresh);
    if (this.fs.exists(this.syncing)) {
      await this.discard(this.journal);
    } else if (this.fs.exists(this.journal)) {
      await this.discard(this.previous);
      await this.fs.rename(this.journal, this.previous);
    }
    await this.fs.rename(this.fresh, this.journal);
    await this.fs.syncDir(this.dataDir);
  }

  /** Moves a journal out of the way durably, then deletes it. */
  private async discard(dir: string): Promise<void> {
    if (!this.fs.exists(dir)) return;
    rmSync(this.discarded, { recursive: true, force: true });
    await this.fs.rename(dir, this.discarded);
    await this.fs.syncDir(this.dataDir);
    rmSync(this.discarded, { recursive: true, force: true });
  }

  /** The new journal holds everything: it is marked complete, and what was kept aside can go. */
  async endSync(): Promise<void> {
    await this.fs.rename(this.syncing, this.synced);
    await this.fs.syncDir(this.journal);
    await this.discard(this.previous);
  }

  /** Which journal a promotion would start from (see prepareForPromotion), and where it is now; changes nothing. */
  promotionSource(): { readonly kind: PromotedJournal; readonly dir: string | undefined } {
    if (this.complete) return { kind: 'in sync', dir: this.journal };
    // A sync cut short (or a crash between setting its journal aside and renaming the fresh one in).
    if ((this.fs.exists(this.syncing) || !this.fs.exists(this.journal)) && this.fs.exists(this.previous)) return { kind: 'last complete, set aside by a sync cut short', dir: this.previous };
    if (this.fs.exists(this.syncing)) return { kind: 'partial sync', dir: this.journal };
    return { kind: 'not a mirror', dir: this.fs.exists(this.journal) ? this.journal : undefined };
  }

  /**
   * Makes `journal/` what a promoted node recovers from: a completed sync;
   * else (forced) what a sync cut short had set aside; else the partial sync
   * or the node's own journal as it is. The marker goes: it is a primary's
   * journal from now on.
   */
  async prepareForPromotion(): Promise<PromotedJournal> {
    const { kind: which, dir } = this.promotionSource();
    if (dir === this.previous) {
      await this.discard(this.journal);
      await this.fs.rename(this.previous, this.journal);
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
