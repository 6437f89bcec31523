import { join } from 'node:path';
import type { Logger } from 'pino';
import { Encoder } from '../protocol/encoder.js';
import { ACK_ENTRY_SIZE, AckType, writeAckEntry } from './ack-entry.js';
import { type EnqueueRecord, readRecord, writeEnqueueRecord } from './journal-record.js';
import { recoverSegments, type RecoveredMessage } from './recovery.js';
import { Segment } from './segment.js';
import { encodeSegmentHeader, SEGMENT_HEADER_SIZE, SegmentKind } from './segment-header.js';
import type { StoreFile, StoreFs } from './store-fs.js';

/** Where a message record lives: the segment and the record's offset in its .msgs file. */
export interface StoredLocation {
  readonly segment: number;
  readonly offset: number;
}

/** Something to tell when a publish is on disk: a channel's confirm tracker. */
export interface DurabilityWaiter {
  settle(seq: number, ok: boolean): void;
}

export interface JournalOptions {
  /** A new segment is started once the active one passes this size. */
  readonly segmentSize: number;
  readonly epoch: number;
}

export const DEFAULT_SEGMENT_SIZE = 32 * 1024 * 1024;

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
 * all removed is deleted.
 */
export class Journal {
  private readonly segments = new Map<number, Segment>();
  private active: Segment;
  private nextSeq: number;
  private readonly encoder = new Encoder();
  private readonly pendingWrites: PendingWrite[] = [];
  /** Writes handed to the file system and not yet finished: read() must not look on disk for them. */
  private inflight: PendingWrite[] = [];
  private readonly pendingAcks = new Map<Segment, number[]>();
  private waiterTargets: DurabilityWaiter[] = [];
  private waiterSeqs: number[] = [];
  private committing = false;
  private commitAgain = false;
  private commitScheduled = false;
  private idle: Promise<void> = Promise.resolve();
  private resolveIdle: (() => void) | undefined;
  /** Set after an I/O error: the store takes no more work and confirms nothing. */
  failure: Error | undefined;

  private constructor(
    private readonly dir: string,
    private readonly fs: StoreFs,
    private readonly log: Logger,
    private readonly options: JournalOptions,
    segments: Segment[],
    nextSeq: number,
    private readonly onFailure: (err: Error) => void,
  ) {
    for (const s of segments) this.segments.set(s.number, s);
    // What an earlier run wrote is sealed: a crash may have kept ack entries for records it lost,
    // so no record is ever written again at an offset an earlier run used.
    this.active = this.newSegment((segments.at(-1)?.number ?? 0) + 1);
    this.nextSeq = nextSeq;
  }

  /**
   * Opens the journal in `dir`, replaying what is there: `isQueue` says which
   * queue ids still exist, `restore` receives each message some queue still
   * holds, in journal order.
   */
  static async open(
    dir: string,
    fs: StoreFs,
    log: Logger,
    options: JournalOptions,
    isQueue: (id: number) => boolean,
    restore: (m: RecoveredMessage) => void,
    onFailure: (err: Error) => void,
  ): Promise<Journal> {
    fs.mkdir(dir);
    const { segments, nextSeq } = await recoverSegments(dir, fs, log, isQueue, restore);
    const journal = new Journal(dir, fs, log, options, segments, nextSeq, onFailure);
    await journal.deleteDeadSegments();
    return journal;
  }

  /** Appends a message for the given queues; it is durable once a later commit completes. */
  append(queueIds: readonly number[], exchange: string, routingKey: string, rawProperties: Buffer, body: Buffer, waiter?: DurabilityWaiter, waiterSeq = 0): StoredLocation {
    if (this.active.msgsSize >= this.options.segmentSize) this.rotate();
    const segment = this.active;
    const offset = segment.msgsSize;
    segment.msgsSize += writeEnqueueRecord(this.encoder, {
      epoch: this.options.epoch,
      seq: this.nextSeq++,
      queueIds,
      exchange,
      routingKey,
      rawProperties,
      body,
    });
    segment.live += queueIds.length;
    if (waiter !== undefined && this.failure !== undefined) {
      waiter.settle(waiterSeq, false);
    } else if (waiter !== undefined) {
      this.waiterTargets.push(waiter);
      this.waiterSeqs.push(waiterSeq);
    }
    this.scheduleCommit();
    return { segment: segment.number, offset };
  }

  /** Tells `waiter` (with seq 0) once everything appended so far is durable. */
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
    const segment = this.segments.get(location.segment);
    if (segment === undefined) return;
    this.ack(segment, AckType.Removed, queueId, location.offset);
    segment.live--;
  }

  /** Records that a message was delivered, so it comes back marked redelivered after a crash. */
  delivered(queueId: number, location: StoredLocation): void {
    const segment = this.segments.get(location.segment);
    if (segment !== undefined) this.ack(segment, AckType.Delivered, queueId, location.offset);
  }

  /**
   * Reads a stored message back, for a queue that kept only its location in
   * memory. Records not yet on disk are read from the write buffers.
   */
  read(location: StoredLocation): EnqueueRecord {
    const segment = this.segments.get(location.segment);
    if (segment === undefined) throw new Error(`journal segment ${location.segment} is gone but a queue still refers to it`);
    const { bytes, at } = this.bufferedBytes(segment, location.offset) ?? this.readFromFile(segment, location.offset);
    const result = readRecord(bytes, at);
    if (result.kind !== 'record') {
      throw new Error(`journal segment ${location.segment} offset ${location.offset}: ${result.kind === 'bad' ? result.reason : 'no record'}`);
    }
    const { record } = result;
    return { ...record, rawProperties: Buffer.from(record.rawProperties), body: Buffer.from(record.body) };
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

  private readFromFile(segment: Segment, offset: number): { bytes: Buffer; at: number } {
    const file = segment.msgs;
    if (file === undefined) throw new Error(`journal segment ${segment.number} has no file yet`);
    const length = Buffer.allocUnsafe(4);
    file.readSync(length, offset);
    const bytes = Buffer.allocUnsafe(4 + length.readUInt32BE(0));
    file.readSync(bytes, offset);
    return { bytes, at: 0 };
  }

  /** Resolves once everything appended so far is written and synced. */
  async flush(): Promise<void> {
    this.scheduleCommit();
    while (this.commitScheduled || this.committing) await this.idle;
  }

  async close(): Promise<void> {
    await this.flush();
    for (const s of this.segments.values()) {
      await s.msgs?.close();
      await s.acks?.close();
    }
  }

  get segmentCount(): number {
    return this.segments.size;
  }

  private ack(segment: Segment, type: AckType, queueId: number, offset: number): void {
    let list = this.pendingAcks.get(segment);
    if (list === undefined) this.pendingAcks.set(segment, (list = []));
    list.push(type, queueId, offset);
    this.scheduleCommit();
  }

  private newSegment(number: number): Segment {
    const segment = new Segment(number);
    segment.msgsSize = SEGMENT_HEADER_SIZE;
    this.segments.set(number, segment);
    return segment;
  }

  private rotate(): void {
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
    if (this.commitScheduled || this.failure !== undefined) return;
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
      } while (this.commitAgain && this.failure === undefined);
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
    this.takeEncoded();
    const writes = this.pendingWrites.splice(0, this.pendingWrites.length);
    const acks = [...this.pendingAcks];
    this.pendingAcks.clear();
    const targets = this.waiterTargets;
    const seqs = this.waiterSeqs;
    this.waiterTargets = [];
    this.waiterSeqs = [];

    try {
      let created = false;
      this.inflight = writes;
      for (const [i, w] of writes.entries()) {
        created = (await this.ensureFiles(w.segment, 'msgs')) || created;
        await w.segment.msgs!.write(w.data, w.position);
        // A segment is synced before the next one exists, so recovery can take damage in any but the last for corruption.
        if (i < writes.length - 1) await w.segment.msgs!.datasync();
      }
      this.inflight = [];
      for (const [segment] of acks) created = (await this.ensureFiles(segment, 'acks')) || created;
      await Promise.all(acks.map(([segment, list]) => this.writeAcks(segment, list)));
      const synced = new Set<StoreFile>([...writes.map((w) => w.segment.msgs!), ...acks.map(([segment]) => segment.acks!)]);
      await Promise.all([...synced].map((f) => f.datasync()));
      if (created) await this.fs.syncDir(this.dir);
    } catch (err) {
      for (let i = 0; i < targets.length; i++) targets[i]!.settle(seqs[i]!, false);
      throw err;
    }
    for (let i = 0; i < targets.length; i++) targets[i]!.settle(seqs[i]!, true);
    await this.deleteDeadSegments();
  }

  /** Creates a segment's file with its header the first time something is written to it; true if it did. */
  private async ensureFiles(segment: Segment, kind: 'msgs' | 'acks'): Promise<boolean> {
    if (segment[kind] !== undefined) return false;
    const file = await this.fs.open(join(this.dir, Segment.fileName(segment.number, kind)), true);
    segment[kind] = file;
    if (file.size() >= SEGMENT_HEADER_SIZE) return false;
    await file.write(encodeSegmentHeader(kind === 'msgs' ? SegmentKind.Messages : SegmentKind.Acks, segment.number), 0);
    if (kind === 'acks') segment.acksSize = Math.max(segment.acksSize, SEGMENT_HEADER_SIZE);
    await file.datasync();
    return true;
  }

  private async writeAcks(segment: Segment, list: number[]): Promise<void> {
    const count = list.length / 3;
    const data = Buffer.allocUnsafe(count * ACK_ENTRY_SIZE);
    for (let i = 0; i < count; i++) writeAckEntry(data, i * ACK_ENTRY_SIZE, list[i * 3]! as AckType, list[i * 3 + 1]!, list[i * 3 + 2]!);
    const position = segment.acksSize;
    segment.acksSize += data.length;
    await segment.acks!.write(data, position);
  }

  /** Deletes every segment but the active one whose messages are all gone. */
  private async deleteDeadSegments(): Promise<void> {
    for (const segment of [...this.segments.values()]) {
      if (segment === this.active || segment.live > 0 || this.pendingAcks.has(segment)) continue;
      this.segments.delete(segment.number);
      await segment.msgs?.close();
      await segment.acks?.close();
      // The .msgs file goes first, durably: a crash in between leaves an .acks file alone, which recovery
      // deletes, never messages without the acks that removed them.
      const msgs = join(this.dir, Segment.fileName(segment.number, 'msgs'));
      const acks = join(this.dir, Segment.fileName(segment.number, 'acks'));
      if (this.fs.exists(msgs)) await this.fs.unlink(msgs);
      if (this.fs.exists(acks)) {
        await this.fs.syncDir(this.dir);
        await this.fs.unlink(acks);
      }
      this.log.debug({ segment: segment.number }, 'journal segment deleted: every message in it is gone');
    }
  }

  private fail(err: Error): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    this.log.fatal({ err }, 'journal I/O failed: the store takes no more messages');
    for (let i = 0; i < this.waiterTargets.length; i++) this.waiterTargets[i]!.settle(this.waiterSeqs[i]!, false);
    this.waiterTargets = [];
    this.waiterSeqs = [];
    this.onFailure(err);
  }
}
