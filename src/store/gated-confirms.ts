/** Something to tell when a publish is on disk: a channel's confirm tracker. */
export interface DurabilityWaiter {
  settle(seq: number, ok: boolean): void;
}

/** The waiters of one commit (or several in a row, when the older ones had none). */
interface Batch {
  commit: number;
  coveredSeq: number;
  readonly targets: DurabilityWaiter[];
  readonly seqs: number[];
}

/**
 * The waiters of commits already durable here, held until a confirm gate
 * (a replicating primary's standby) lets their commit through, oldest first.
 * A commit with nobody waiting only moves the newest entry on, so the queue
 * grows with the waiters, not with the commits.
 */
export class GatedConfirms {
  private batches: Batch[] = [];
  /** Sequence number of the newest record confirmed: durable here and let through. */
  confirmedSeq = 0;

  hold(commit: number, coveredSeq: number, targets: DurabilityWaiter[], seqs: number[]): void {
    const newest = this.batches.at(-1);
    if (newest !== undefined && newest.targets.length === 0) {
      newest.commit = commit;
      newest.coveredSeq = coveredSeq;
      newest.targets.push(...targets);
      newest.seqs.push(...seqs);
      return;
    }
    this.batches.push({ commit, coveredSeq, targets, seqs });
  }

  /** Tells the waiters of every commit up to `limit` that they are confirmed. */
  release(limit: number): void {
    while (this.batches.length > 0 && this.batches[0]!.commit <= limit) {
      const { coveredSeq, targets, seqs } = this.batches.shift()!;
      this.confirmedSeq = Math.max(this.confirmedSeq, coveredSeq);
      for (let i = 0; i < targets.length; i++) targets[i]!.settle(seqs[i]!, true);
    }
  }

  /** Durable here, never let through: not confirmed. */
  nackAll(): void {
    for (const { targets, seqs } of this.batches.splice(0)) for (let i = 0; i < targets.length; i++) targets[i]!.settle(seqs[i]!, false);
  }
}
