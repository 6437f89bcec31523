import { join } from 'node:path';
import type { Logger } from 'pino';
import { Encoder } from '../protocol/encoder.js';
import { ACK_ENTRY_SIZE, type AckEntry, AckType, readAckEntries, writeAckEntry } from './ack-entry.js';
import { DamageRepair } from './damage-repair.js';
import { writeNewest, writeSegmentLists } from './segment-manifest.js';
import type { ConfirmGate, JournalCut, ShippedStream } from './replication-port.js';
import { datasync, isRetryableWriteFailure, syncFailure } from './write-failure.js';
import { Compaction, type CompactionHost, pickCompactionCandidate } from './compaction.js';
import { type DurabilityWaiter, GatedConfirms } from './gated-confirms.js';
import { type DefinitionOp, writeDefinitionOp } from './definition-records.js';
import { type MessageRecord, readRecord, RecordType, writePayloadRecord, writeMessageRecord } from './journal-record.js';
import { ReadBuffer } from './read-buffer.js';
import { ReadWindow } from './read-window.js';
import { deleteSegmentFiles, type RecoveryHooks, recoverSegments } from './recovery.js';
import { Relocations } from './relocations.js';
import { Segment } from './segment.js';
import { encodeSegmentHeader, SEGMENT_HEADER_SIZE, SegmentKind } from './segment-header.js';
import { lags, SyncedMarker } from './synced-marker.js';
import type { StoreFile, StoreFs } from './store-fs.js';
import type { StoredLocation } from './stored-location.js';

export type { StoredLocation } from './stored-location.js';

export type { DurabilityWaiter } from './gated-confirms.js';

export interface JournalOptions {
  /** A new segment is started once the active one passes this size. */
  readonly segmentSize: number;
  /** The epoch records are written in; by default the newest one the journal holds (1 when empty), or the one after it with `newEpoch`. */
  readonly epoch?: number | undefined;
  /** A promotion: start the epoch after the newest one the journal holds. */
  readonly newEpoch?: boolean | undefined;
  /** How often compaction looks for a segment worth it (a segment must also be quiet that long); 0: only when lookForCompaction() is called. */
  readonly compactionLookMs?: number | undefined;
  /** Move damaged data aside and keep what is readable, rather than refuse to start (--force-recover). */
  readonly forceRecover?: boolean | undefined;
  /** How long a commit that found the disk full waits before it is tried again (1 s by default). */
  readonly retryMs?: number | undefined;
}

/** What the journal needs from its owner: recovery's hooks, and these. */
export interface JournalHooks extends RecoveryHooks {
  /** Encodes every durable definition as they stand now: the snapshot each segment starts with. */
  writeSnapshot(e: Encoder): void;
  /** The store failed: nothing more can be made durable. */
  onFailure(err: Error): void;
}

export const DEFAULT_SEGMENT_SIZE = 32 * 1024 * 1024;
const DEFAULT_COMPACTION_LOOK_MS = 1000;
/** How often a commit that found the disk full is tried again. */
const RETRY_MS = 1000;

interface PendingWrite {
  readonly segment: Segment;
  readonly position: number;
  readonly data: Buffer;
}

/**
 * The append-only message journal: segmented .msgs files of message records,
 * each with an .acks file recording removals and deliveries.
 *
 * Appends are buffered and written by one commit at a time (group commit):
 * everything appended while a commit runs goes into the next one, and one
 * fdatasync per touched file covers all of it. Waiters (publisher confirms)
 * are told only after that fdatasync. Ack entries ride the same commits, so
 * an acked message does not come back after a crash (if one is lost anyway,
 * the result is a redelivery, never a loss). A segment whose messages were
 * all removed is deleted; one that is mostly garbage is compacted (see
 * Compaction), its live records copied forward.
 */
export class Journal {
  private readonly segments = new Map<number, Segment>();
  private active: Segment;
  private nextSeq: number;
  /** Sequence number of the newest definition record. */
  private lastDefinitionSeq = 0;
  /** Sequence number of the newest record a completed commit covered. */
  private durableSeq = 0;
  /** Commits durable here whose waiters the gate holds back. */
  private readonly gated = new GatedConfirms();
  /**
   * Numbers every commit, one after another: what the gate counts in, since
   * a commit of acks alone covers no new record and so no new sequence number.
   */
  private commitNumber = 0;
  /** Set on a replicating primary: how far confirms may go. */
  private gate: ConfirmGate | undefined;
  /** Set while a standby is attached: where appended records and acks are shipped. */
  private shipping: ShippedStream | undefined;
  /** Shipping starts at the next commit: the cut is taken there, between commits. */
  private cutRequest: { readonly stream: ShippedStream; readonly taken: (cut: JournalCut) => void } | undefined;
  /** Cuts taken whose bytes are not all written yet. */
  private cutsUnwritten: (() => void)[] = [];
  /** While a snapshot reads the segments of a cut: none is deleted, and compaction neither starts nor switches. */
  private pinned = false;
  private compactionFinishDeferred: Compaction | undefined;
  /**
   * The newest segment whose leading snapshot is on disk. Older segments may be
   * deleted once their messages are gone; this one and newer may not, or a
   * crash could leave a journal with no snapshot of the definitions at all.
   */
  private snapshotDurableIn = 0;
  private readonly encoder = new Encoder();
  private readonly pendingWrites: PendingWrite[] = [];
  /** Writes handed to the file system and not yet finished: read() must not look on disk for them. */
  private inflight: PendingWrite[] = [];
  private readonly pendingAcks = new Map<Segment, number[]>();
  private waiterTargets: DurabilityWaiter[] = [];
  private waiterSeqs: number[] = [];
  /** The journal's own work waiting for a commit (never held by the gate; waits through failed writes). */
  private localWaiters: (() => void)[] = [];
  private committing = false;
  private commitAgain = false;
  private commitScheduled = false;
  private idle: Promise<void> = Promise.resolve();
  private resolveIdle: (() => void) | undefined;
  private readonly relocations = new Relocations();
  private readonly readWindow = new ReadWindow();
  /** The segment picked to be compacted at the end of the running commit, when its acks are all on disk. */
  private compactionDue: Segment | undefined;
  private compaction: Compaction | undefined;
  private readonly compactionTimer: NodeJS.Timeout | undefined;
  /** Set while writes fail for want of space: why, for the errors clients get. */
  writeFailure: Error | undefined;
  /** Commits that failed so far: a reply that waited across one cannot vouch for what the failure took back. */
  failedCommits = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  /** A file was created since the directory was last synced. */
  private dirSyncDue = false;
  /** Segments whose .msgs file was created since the directory was last synced. */
  private newFiles: Segment[] = [];
  private readonly marker = new SyncedMarker();
  private closed = false;
  /** Set after an I/O error: the store takes no more work and confirms nothing. */
  failure: Error | undefined;

  private constructor(
    private readonly dir: string,
    private readonly fs: StoreFs,
    private readonly log: Logger,
    private readonly options: JournalOptions,
    segments: Segment[],
    nextSeq: number,
    /** The epoch this journal writes records in. */
    readonly epoch: number,
    private readonly hooks: JournalHooks,
  ) {
    for (const s of segments) this.segments.set(s.number, s);
    this.nextSeq = nextSeq;
    // What an earlier run wrote is sealed: a crash may have kept ack entries for records it lost,
    // so no record is ever written again at an offset an earlier run used.
    this.active = this.newSegment((segments.at(-1)?.number ?? 0) + 1);
    const lookMs = options.compactionLookMs ?? DEFAULT_COMPACTION_LOOK_MS;
    if (lookMs > 0) this.compactionTimer = setInterval(() => this.lookForCompaction(), lookMs).unref();
  }

  /**
   * Opens the journal in `dir`, replaying the messages there into
   * `hooks.restore`, and starts a new segment with a snapshot of the
   * definitions; resolves once that snapshot is durable.
   */
  static async open(dir: string, fs: StoreFs, log: Logger, options: JournalOptions, hooks: JournalHooks): Promise<Journal> {
    fs.mkdir(dir);
    const repair = options.forceRecover === true ? new DamageRepair(dir, fs, log) : undefined;
    const recovered = await recoverSegments(dir, fs, log, hooks, repair);
    const epoch = options.epoch ?? (options.newEpoch === true ? recovered.epoch + 1 : Math.max(recovered.epoch, 1));
    const journal = new Journal(dir, fs, log, options, recovered.segments, recovered.nextSeq, epoch, hooks);
    // The commit also deletes the segments recovery found dead, now that a newer snapshot is on disk.
    await journal.flush();
    if (journal.failure !== undefined) throw journal.failure;
    return journal;
  }

  /** Appends a declare, delete, bind or unbind of something durable; durable once a later commit completes. */
  appendDefinition(op: DefinitionOp): void {
    this.rotateIfFull();
    const seq = this.nextSeq++;
    const size = writePayloadRecord(this.encoder, this.epoch, seq, RecordType.Definition, (e) => writeDefinitionOp(e, op));
    this.active.msgsSize += size;
    this.shipping?.definition(this.encoder.buf.subarray(this.encoder.pos - size, this.encoder.pos));
    this.lastDefinitionSeq = seq;
    this.scheduleCommit();
  }

  /** Whether every definition record appended so far is confirmed (on disk, and wherever the gate requires): a declare may be answered only then. */
  get definitionsDurable(): boolean {
    return this.lastDefinitionSeq <= this.gated.confirmedSeq;
  }

  /**
   * Appends a message for the given queues (or delayed exchange, with the
   * time it is due); it is durable once a later commit completes.
   */
  append(queueIds: readonly number[], exchange: string, routingKey: string, rawProperties: Buffer, body: Buffer, waiter?: DurabilityWaiter, waiterSeq = 0, dueAt?: number): StoredLocation {
    const location = this.appendRecord({ epoch: this.epoch, seq: this.nextSeq++, queueIds, exchange, routingKey, rawProperties, body, dueAt });
    if (this.shipping !== undefined) this.shipping.record(location, this.encoder.buf.subarray(this.encoder.pos - this.lastRecordSize, this.encoder.pos));
    if (waiter !== undefined && this.failure !== undefined) {
      waiter.settle(waiterSeq, false);
    } else if (waiter !== undefined) {
      this.waiterTargets.push(waiter);
      this.waiterSeqs.push(waiterSeq);
    }
    this.scheduleCommit();
    return location;
  }

  private lastRecordSize = 0;

  private appendRecord(record: MessageRecord): StoredLocation {
    this.rotateIfFull();
    const segment = this.active;
    const offset = segment.msgsSize;
    this.lastRecordSize = writeMessageRecord(this.encoder, record);
    this.countRecord(segment, this.lastRecordSize, record.queueIds.length);
    return { segment: segment.number, offset };
  }

  private countRecord(segment: Segment, size: number, queueCount: number): void {
    segment.msgsSize += size;
    segment.live += queueCount;
    segment.pairs += queueCount;
  }

  /**
   * On a standby: appends a record the primary wrote, as it wrote it (its
   * epoch and sequence number kept); `queueCount` is 0 for a definition.
   * Durable once a later commit completes.
   */
  appendShipped(bytes: Buffer, seq: number, queueCount: number): StoredLocation {
    this.rotateIfFull();
    const segment = this.active;
    const offset = segment.msgsSize;
    this.encoder.bytes(bytes);
    this.countRecord(segment, bytes.length, queueCount);
    // The journal's own records (snapshots, retirements) take numbers past every shipped one.
    this.nextSeq = Math.max(this.nextSeq, seq + 1);
    this.scheduleCommit();
    return { segment: segment.number, offset };
  }

  /**
   * Runs `then` once everything appended so far is durable here, waiting
   * through failed writes (retried) rather than giving up; never after a
   * fatal failure. The journal's own work: no gate holds it.
   */
  afterDurable(then: () => void): void {
    if (this.failure !== undefined) return;
    this.localWaiters.push(then);
    this.scheduleCommit();
  }

  /** Tells `waiter` (with seq 0) once everything appended so far is confirmed (durable, and past the gate). */
  whenDurable(waiter: DurabilityWaiter): void {
    if (this.failure !== undefined) {
      waiter.settle(0, false);
      return;
    }
    this.waiterTargets.push(waiter);
    this.waiterSeqs.push(0);
    this.scheduleCommit();
  }

  /** Records that a queue is done with a message (acked, rejected, purged, dropped, queue deleted). */
  removed(queueId: number, location: StoredLocation): void {
    this.mark(AckType.Removed, queueId, location);
  }

  /** Records that a message was delivered, so it comes back marked redelivered after a crash. */
  delivered(queueId: number, location: StoredLocation): void {
    this.mark(AckType.Delivered, queueId, location);
  }

  /** Writes an ack entry where the record is, and where it is being copied to if compaction is moving it. */
  private mark(type: AckType, queueId: number, location: StoredLocation): void {
    const at = this.relocations.locate(location);
    const segment = this.segments.get(at.segment);
    if (segment === undefined) return;
    this.shipping?.ack(type, queueId, at);
    this.ack(segment, type, queueId, at.offset);
    if (type === AckType.Removed) segment.live--;
    this.compaction?.noteAck(segment, { type, queueId, offset: at.offset });
    const copy = this.compaction?.copyOf(segment, at.offset);
    const copySegment = copy === undefined ? undefined : this.segments.get(copy.segment);
    if (copySegment === undefined) return;
    this.ack(copySegment, type, queueId, copy!.offset);
    if (type === AckType.Removed) copySegment.live--;
  }

  /**
   * Reads a stored message back, for a queue that kept only its location in
   * memory. Records not yet on disk are read from the write buffers. The
   * properties and body are views into bytes the journal may reuse: the
   * caller copies what it keeps, before its next call into the journal.
   */
  read(location: StoredLocation): MessageRecord {
    const { segment: number, offset } = this.relocations.locate(location);
    const segment = this.segments.get(number);
    if (segment === undefined) throw new Error(`journal segment ${number} is gone but a queue still refers to it`);
    const { bytes, at } = this.bufferedBytes(segment, offset) ?? this.readFromFile(segment, offset);
    const result = readRecord(bytes, at);
    if (result.kind !== 'record') {
      throw new Error(`journal segment ${number} offset ${offset}: ${result.kind === 'bad' ? result.reason : 'no record'}`);
    }
    return result.record;
  }

  private readFromFile(segment: Segment, offset: number): { bytes: Buffer; at: number } {
    const file = segment.msgs;
    if (file === undefined) throw new Error(`journal segment ${segment.number} has no file yet`);
    return this.readWindow.read(segment, file, segment.writtenSize, offset);
  }

  private bufferedBytes(segment: Segment, offset: number): { bytes: Buffer; at: number } | undefined {
    if (segment === this.active) {
      const encodedFrom = segment.msgsSize - this.encoder.length;
      if (offset >= encodedFrom) return { bytes: this.encoder.buf.subarray(this.encoder.start, this.encoder.pos), at: offset - encodedFrom };
    }
    for (const w of [...this.pendingWrites, ...this.inflight]) {
      if (w.segment === segment && offset >= w.position && offset < w.position + w.data.length) return { bytes: w.data, at: offset - w.position };
    }
    return undefined;
  }

  /** Resolves once everything appended so far is written and synced, or its commit failed (and waits to be retried). */
  async flush(): Promise<void> {
    this.scheduleCommit();
    while (this.commitScheduled || this.committing) await this.idle;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.compactionTimer);
    this.marker.stop();
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    // Each commit moves the synced-length marker over what the one before wrote (and may retire segments).
    await this.flush();
    for (let i = 0; i < 2 && lags(this.active); i++) await this.flush();
    // Durable here, never acknowledged where the gate required: not confirmed.
    this.gated.nackAll();
    for (const s of this.segments.values()) {
      await s.msgs?.close();
      await s.acks?.close();
    }
  }

  get segmentCount(): number {
    return this.segments.size;
  }

  /** Where compaction is: reading a segment, or done copying it and waiting for the copies to be durable. */
  get compactionState(): 'idle' | 'reading' | 'copied' {
    if (this.compaction === undefined) return 'idle';
    return this.compaction.copied ? 'copied' : 'reading';
  }

  private ack(segment: Segment, type: AckType, queueId: number, offset: number): void {
    let list = this.pendingAcks.get(segment);
    if (list === undefined) this.pendingAcks.set(segment, (list = []));
    list.push(type, queueId, offset);
    this.scheduleCommit();
  }

  /** A new active segment, starting with a snapshot of the definitions so recovery never needs the segments before it for them. */
  private newSegment(number: number): Segment {
    const segment = new Segment(number);
    segment.msgsSize = SEGMENT_HEADER_SIZE;
    // The older segments the journal counts on, so recovery can tell one missing from one deleted: only files known
    // to be on disk, since a crash may yet take a newer one that no commit completed.
    const older = [...this.segments.values()];
    const kept = older.flatMap((s) => (s.fileDurable && s.retiredAtSeq === undefined ? [s.number] : []));
    const retiring = older.flatMap((s) => (s.retiredAtSeq === undefined ? [] : [s.number]));
    segment.msgsSize += writePayloadRecord(this.encoder, this.epoch, this.nextSeq++, RecordType.Snapshot, (e) => {
      writeSegmentLists(e, { kept, retiring });
      this.hooks.writeSnapshot(e);
    });
    segment.snapshotEnd = segment.msgsSize;
    this.segments.set(number, segment);
    return segment;
  }

  /** The snapshot does not count towards the segment size: a snapshot bigger than a segment must not rotate on every append. */
  private rotateIfFull(): void {
    if (this.active.msgsSize - this.active.snapshotEnd < this.options.segmentSize) return;
    this.takeEncoded();
    this.active = this.newSegment(this.active.number + 1);
  }

  /** Moves the encoded records of the active segment into the write queue. */
  private takeEncoded(): void {
    if (this.encoder.length === 0) return;
    const data = this.encoder.take();
    this.pendingWrites.push({ segment: this.active, position: this.active.msgsSize - data.length, data });
  }

  private scheduleCommit(): void {
    // While a commit waits to be retried, everything new goes with it.
    if (this.commitScheduled || this.failure !== undefined || this.retryTimer !== undefined) return;
    this.commitScheduled = true;
    if (this.resolveIdle === undefined) this.idle = new Promise((resolve) => (this.resolveIdle = resolve));
    setImmediate(() => {
      this.commitScheduled = false;
      void this.commit();
    });
  }

  private async commit(): Promise<void> {
    if (this.committing) {
      this.commitAgain = true;
      return;
    }
    this.committing = true;
    try {
      do {
        this.commitAgain = false;
        await this.commitOnce();
      } while (this.commitAgain && this.failure === undefined && this.retryTimer === undefined);
    } catch (err) {
      this.fail(err as Error);
    } finally {
      this.committing = false;
      if (!this.commitScheduled) {
        this.resolveIdle?.();
        this.resolveIdle = undefined;
      }
    }
  }

  private async commitOnce(): Promise<void> {
    // Between commits every ack entry is either written or pending: the one moment a cut is exact.
    this.takeCut();
    this.takeEncoded();
    const writes = this.pendingWrites.splice(0, this.pendingWrites.length);
    const acks = [...this.pendingAcks];
    this.pendingAcks.clear();
    const targets = this.waiterTargets;
    const seqs = this.waiterSeqs;
    this.waiterTargets = [];
    this.waiterSeqs = [];
    const local = this.localWaiters;
    this.localWaiters = [];
    const coveredSeq = this.nextSeq - 1;
    const commit = ++this.commitNumber;
    // Before the local writes: the standby's fdatasync runs alongside ours.
    this.shipping?.commit(commit);

    // Where each touched .acks file ended before this commit's entries (after any header): a failed write goes there again.
    let acksStart: number[] | undefined;
    try {
      this.inflight = writes;
      for (const [i, w] of writes.entries()) {
        await this.ensureFiles(w.segment, 'msgs');
        await w.segment.msgs!.write(w.data, w.position);
        w.segment.writtenSize = Math.max(w.segment.writtenSize, w.position + w.data.length);
        // A segment is synced before the next one exists, so recovery can take damage in any but the last for corruption.
        if (i < writes.length - 1) await datasync(w.segment.msgs!);
      }
      this.inflight = [];
      for (const [segment] of acks) await this.ensureFiles(segment, 'acks');
      acksStart = acks.map(([segment]) => segment.acksSize);
      await Promise.all(acks.map(([segment, list]) => this.writeAcks(segment, list)));
      const synced = new Set<StoreFile>([...writes.map((w) => w.segment.msgs!), ...acks.map(([segment]) => segment.acks!)]);
      const marked = await this.marker.write(this.active, this.closed);
      if (marked !== undefined) synced.add(marked.file);
      await Promise.all([...synced].map(datasync));
      if (this.dirSyncDue) await syncFailure(this.fs.syncDir(this.dir));
      this.dirSyncDue = false;
      await this.recordNewSegments();
      if (marked !== undefined) this.active.markedSize = marked.length;
      for (const w of writes) w.segment.syncedSize = Math.max(w.segment.syncedSize, w.position + w.data.length);
    } catch (err) {
      this.failedCommits++;
      const retryable = isRetryableWriteFailure(err);
      // Set before the waiters hear of it, so that they can tell why.
      if (retryable) this.retryLater(err as Error);
      for (let i = 0; i < targets.length; i++) targets[i]!.settle(seqs[i]!, false);
      if (!retryable) throw err;
      this.localWaiters.unshift(...local);
      // Nothing of this commit was confirmed: the same bytes go again, at the same places, with what came since
      // (rewriting what did reach the disk changes nothing).
      this.inflight = [];
      this.pendingWrites.unshift(...writes);
      for (const [i, [segment, list]] of acks.entries()) {
        if (acksStart !== undefined) segment.acksSize = acksStart[i]!;
        this.pendingAcks.set(segment, [...list, ...(this.pendingAcks.get(segment) ?? [])]);
      }
      return;
    }
    this.recovered();
    this.durableSeq = coveredSeq;
    // A segment's first write holds its snapshot.
    for (const w of writes) this.snapshotDurableIn = Math.max(this.snapshotDurableIn, w.segment.number);
    for (const written of this.cutsUnwritten.splice(0)) written();
    this.gated.hold(commit, coveredSeq, targets, seqs);
    this.releaseConfirmed();
    for (const then of local) then();
    await this.deleteDeadSegments();
    if (!this.closed) this.marker.catchUpLater(this.active, (segment) => segment === this.active && this.scheduleCommit());
    const due = this.compactionDue;
    this.compactionDue = undefined;
    if (due !== undefined && this.segments.get(due.number) === due) this.startCompaction(due);
  }

  /**
   * Tells the waiters of every durable commit the gate now lets through;
   * the gate's owner calls it again whenever the gate opens further.
   */
  releaseConfirmed(): void {
    this.gated.release(this.gate?.confirmableCommit ?? Infinity);
  }

  /** The number of the newest commit started: what a standby must acknowledge for everything so far. */
  get lastCommit(): number {
    return this.commitNumber;
  }

  /** Confirms of durable commits wait for `gate` from now on (a replicating primary's). */
  setGate(gate: ConfirmGate): void {
    this.gate = gate;
  }

  /** Bytes appended and not yet written: a standby reads from its primary no faster than this drains. */
  get unwrittenBytes(): number {
    let n = this.encoder.length;
    for (const w of this.pendingWrites) n += w.data.length;
    for (const w of this.inflight) n += w.data.length;
    return n;
  }

  /** Sequence number of the newest record appended. */
  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  /**
   * Starts shipping to `stream` at the next commit, where the cut is taken
   * (`stream.started`), and resolves with the cut once its bytes are all
   * written, so a snapshot can read them back. Segments are pinned from the
   * cut on, until `unpin()`: none is deleted and compaction neither starts
   * nor switches.
   */
  startShipping(stream: ShippedStream): Promise<JournalCut> {
    return new Promise((resolve) => {
      this.cutRequest = { stream, taken: resolve };
      this.scheduleCommit();
    });
  }

  stopShipping(): void {
    this.shipping = undefined;
    this.cutRequest = undefined;
    this.unpin();
  }

  /** A snapshot is done reading the cut's segments: deletion and compaction go on. */
  unpin(): void {
    if (!this.pinned) return;
    this.pinned = false;
    const deferred = this.compactionFinishDeferred;
    this.compactionFinishDeferred = undefined;
    if (deferred !== undefined) this.finishCompaction(deferred);
    this.scheduleCommit();
  }

  private takeCut(): void {
    const request = this.cutRequest;
    if (request === undefined) return;
    this.cutRequest = undefined;
    this.shipping = request.stream;
    this.pinned = true;
    const segments = [...this.segments.values()].map((s) => ({
      number: s.number,
      msgsEnd: s.msgsSize,
      acksEnd: Math.max(s.acksSize, SEGMENT_HEADER_SIZE) + ((this.pendingAcks.get(s)?.length ?? 0) / 3) * ACK_ENTRY_SIZE,
      superseded: s.superseded,
    }));
    const definitions = new Encoder();
    this.hooks.writeSnapshot(definitions);
    const cut = { epoch: this.epoch, definitions: definitions.take(), segments };
    request.stream.started(cut);
    this.cutsUnwritten.push(() => request.taken(cut));
  }

  /** The new .msgs files' directory entries are on disk: later snapshots may list them, and NEWEST names the newest. */
  private async recordNewSegments(): Promise<void> {
    if (this.newFiles.length === 0) return;
    await writeNewest(this.dir, this.fs, Math.max(...this.newFiles.map((s) => s.number)));
    for (const s of this.newFiles) s.fileDurable = true;
    this.newFiles = [];
  }

  /**
   * Every `compactionLookMs`: picks a segment to compact, if one is worth it and none is
   * under way. The work itself runs at the end of the next commit, when every
   * ack entry taken so far is on disk.
   */
  lookForCompaction(): void {
    if (this.compaction !== undefined || this.compactionDue !== undefined || this.failure !== undefined) return;
    this.compactionDue = pickCompactionCandidate(this.segments.values(), this.active);
    if (this.compactionDue !== undefined) this.scheduleCommit();
  }

  /**
   * Starts compacting `source` from its ack entries as they stand now, at the
   * end of a commit (every entry taken so far is on disk); the work goes on a
   * slice at a time.
   */
  private startCompaction(source: Segment): void {
    if (this.pinned || this.pendingWrites.some((w) => w.segment === source)) return;
    const compaction = new Compaction(source, this.ackEntriesOf(source), join(this.dir, Segment.fileName(source.number, 'msgs')));
    this.compaction = compaction;
    const started = Date.now();
    const next = (): void => {
      // Given up when the store failed, or when the segment emptied by itself and was deleted.
      if (this.compaction !== compaction || this.failure !== undefined || this.closed || this.segments.get(source.number) !== source) {
        if (this.compaction === compaction) this.compaction = undefined;
        return;
      }
      let step;
      try {
        step = compaction.step(this.compactionHost);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
      if (step === 'more') {
        setImmediate(next);
      } else if (step === 'kept') {
        // Few pairs but big ones: not worth copying until more go.
        source.keptAtLive = source.live;
        this.compaction = undefined;
      } else {
        this.log.info({ segment: source.number, records: compaction.copies.size, bytes: source.msgsSize, ms: Date.now() - started }, 'journal compaction: live records copied');
        this.afterDurable(() => this.finishCompaction(compaction));
      }
    };
    setImmediate(next);
  }

  private readonly compactionHost: CompactionHost = {
    copy: (record, delivered) => {
      const copy = this.appendRecord(record);
      const target = this.segments.get(copy.segment)!;
      for (const queueId of delivered ?? []) this.ack(target, AckType.Delivered, queueId, copy.offset);
      this.scheduleCommit();
      return copy;
    },
    segmentExists: (number) => this.segments.has(number),
  };

  /** The copies are durable: queues' locations now lead to them, and the source segment can go. */
  private finishCompaction(compaction: Compaction): void {
    // A snapshot reading the source segment would miss acks that from now on go to the copies alone.
    if (this.pinned) {
      this.compactionFinishDeferred = compaction;
      return;
    }
    this.compaction = undefined;
    for (const [offset, copy] of compaction.copies) {
      this.shipping?.moved({ segment: compaction.source.number, offset }, copy);
      this.relocations.moved(compaction.source.number, offset, copy);
    }
    compaction.source.superseded = true;
  }

  /** Every ack entry of a segment: those on disk and those waiting for the next commit. */
  private ackEntriesOf(segment: Segment): AckEntry[] {
    const onDisk = segment.acks === undefined ? [] : readAckEntries(new ReadBuffer().readAll(segment.acks), SEGMENT_HEADER_SIZE).entries;
    const pending = this.pendingAcks.get(segment) ?? [];
    for (let i = 0; i < pending.length; i += 3) onDisk.push({ type: pending[i]!, queueId: pending[i + 1]!, offset: pending[i + 2]! });
    return onDisk;
  }

  /** Creates a segment's file with its header the first time something is written to it. */
  private async ensureFiles(segment: Segment, kind: 'msgs' | 'acks'): Promise<void> {
    if (segment[kind] !== undefined) return;
    const file = await this.fs.open(join(this.dir, Segment.fileName(segment.number, kind)), true);
    this.dirSyncDue = true;
    if (kind === 'msgs') this.newFiles.push(segment);
    try {
      if (file.size() < SEGMENT_HEADER_SIZE) {
        await file.write(encodeSegmentHeader(kind === 'msgs' ? SegmentKind.Messages : SegmentKind.Acks, segment.number), 0);
        await datasync(file);
      }
    } catch (err) {
      // Made again, header first, by the retry.
      await file.close();
      throw err;
    }
    segment[kind] = file;
    if (kind === 'acks') segment.acksSize = Math.max(segment.acksSize, SEGMENT_HEADER_SIZE);
  }

  private async writeAcks(segment: Segment, list: number[]): Promise<void> {
    const count = list.length / 3;
    const data = Buffer.allocUnsafe(count * ACK_ENTRY_SIZE);
    for (let i = 0; i < count; i++) writeAckEntry(data, i * ACK_ENTRY_SIZE, list[i * 3]! as AckType, list[i * 3 + 1]!, list[i * 3 + 2]!);
    const position = segment.acksSize;
    segment.acksSize += data.length;
    await segment.acks!.write(data, position);
  }

  /**
   * Deletes every segment older than the newest durable snapshot whose
   * messages are all gone, or copied by compaction: first a Retired record
   * naming it, then, once that is on disk, the files.
   */
  private async deleteDeadSegments(): Promise<void> {
    if (this.pinned) return;
    for (const segment of [...this.segments.values()]) {
      if (segment.number >= this.snapshotDurableIn) continue;
      // Acks still to write for a compacted segment went to the copies as well.
      if (segment.superseded) this.pendingAcks.delete(segment);
      else if (segment.live > 0 || this.pendingAcks.has(segment)) continue;
      if (segment.retiredAtSeq === undefined) {
        this.rotateIfFull();
        segment.retiredAtSeq = this.nextSeq++;
        this.active.msgsSize += writePayloadRecord(this.encoder, this.epoch, segment.retiredAtSeq, RecordType.Retired, (e) => e.u32(segment.number));
        this.scheduleCommit();
        continue;
      }
      if (segment.retiredAtSeq > this.durableSeq) continue;
      this.segments.delete(segment.number);
      this.relocations.forget(segment.number);
      await segment.msgs?.close();
      await segment.acks?.close();
      await deleteSegmentFiles(this.dir, this.fs, segment.number);
      this.log.debug({ segment: segment.number, compacted: segment.superseded }, 'journal segment deleted');
    }
  }

  /**
   * A write found the disk full: what it held was nacked, and the same
   * commit is tried again every second with everything appended since,
   * while consumers go on reading what is stored. The disk alarm blocks
   * publishers long before this, so it is the exception, logged once.
   */
  private retryLater(err: Error): void {
    if (this.closed) return;
    if (this.writeFailure === undefined) this.log.error({ err }, 'journal write failed: the disk is full; what it held is nacked, retrying every second');
    this.writeFailure = err;
    this.retryTimer ??= setTimeout(() => {
      this.retryTimer = undefined;
      this.scheduleCommit();
    }, this.options.retryMs ?? RETRY_MS);
  }

  /** A commit went through after failed ones. */
  private recovered(): void {
    if (this.writeFailure === undefined) return;
    this.writeFailure = undefined;
    this.log.warn('journal writes go through again');
  }

  private fail(err: Error): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    clearInterval(this.compactionTimer);
    clearTimeout(this.retryTimer);
    this.log.fatal({ err }, 'journal I/O failed: the store takes no more messages');
    for (let i = 0; i < this.waiterTargets.length; i++) this.waiterTargets[i]!.settle(this.waiterSeqs[i]!, false);
    this.waiterTargets = [];
    this.waiterSeqs = [];
    this.localWaiters = [];
    this.gated.nackAll();
    this.hooks.onFailure(err);
  }
}

