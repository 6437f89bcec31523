import type { AckType } from './ack-entry.js';
import type { StoredLocation } from './stored-location.js';

/**
 * What a primary ships to its standby, as its journal takes it: message and
 * definition records (the bytes as written), ack entries and compaction's
 * moves (naming each record by where it is now), and the start of each
 * commit. Installed at a cut (Journal.startShipping): what was appended
 * before the cut reaches the standby through a snapshot of the live records.
 */
export interface ShippedStream {
  /** Shipping starts here: before anything else is shipped. */
  started(cut: JournalCut): void;
  record(location: StoredLocation, bytes: Buffer): void;
  definition(bytes: Buffer): void;
  ack(type: AckType, queueId: number, location: StoredLocation): void;
  /** Compaction's copies became the records' places. */
  moved(from: StoredLocation, to: StoredLocation): void;
  /** Commit number `commit` starts (numbers go up by one, across sessions): it covers what was shipped so far. */
  commit(commit: number): void;
}

/** Says how far the confirms of locally durable commits may go: the replication's one say over the journal. */
export interface ConfirmGate {
  /** Commits up to this number may be confirmed (Infinity: nobody else to wait for). */
  readonly confirmableCommit: number;
}

/** What a segment held at a cut: the bytes of its files written before it. */
export interface SegmentAtCut {
  readonly number: number;
  readonly msgsEnd: number;
  readonly acksEnd: number;
  /** Compacted: its live records have copies elsewhere, which count instead. */
  readonly superseded: boolean;
}

/** The journal at the moment a primary started shipping to a standby. */
export interface JournalCut {
  readonly epoch: number;
  /** Every durable definition at the cut, encoded as a snapshot record's definitions (definition-records.ts). */
  readonly definitions: Buffer;
  readonly segments: readonly SegmentAtCut[];
}
