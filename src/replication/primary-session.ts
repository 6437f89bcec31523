import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { Encoder } from '../protocol/encoder.js';
import type { AckType } from '../store/ack-entry.js';
import type { Journal } from '../store/journal.js';
import { writeMessageRecord } from '../store/journal-record.js';
import { liveRecordsAt } from '../store/live-records.js';
import type { JournalCut, ShippedStream } from '../store/replication-port.js';
import type { StoreFs } from '../store/store-fs.js';
import { packLocation, type StoredLocation } from '../store/stored-location.js';
import type { Link } from './link.js';
import { decodeFrame, encodeFrame, FrameType, LinkProtocolError } from './wire.js';

/** The snapshot is written to the socket in runs of about this size. */
const SNAPSHOT_WRITE_BYTES = 256 * 1024;
/** Unsent bytes past this mean the standby cannot keep up: it is dropped rather than held in memory. */
const MAX_UNSENT_BYTES = 256 * 1024 * 1024;
const PROGRESS_MS = 5000;

/** What a primary's session needs from around it. */
export interface SessionHost {
  readonly journal: Journal;
  readonly journalDir: string;
  readonly fs: StoreFs;
  readonly log: Logger;
  readonly timeoutMs: number;
  /** The AMQP port clients reach the primary on: a standby names it when it turns clients away. */
  readonly amqpPort: number;
  /** In-sync state or the acknowledged position changed: confirms may go further. */
  changed(): void;
  ended(session: PrimarySession, reason: string): void;
}

/** A commit shipped and not yet acknowledged as durable by the standby. */
interface ShippedCommit {
  readonly number: number;
  readonly coveredSeq: number;
  readonly shippedAt: number;
  /** Link bytes shipped up to the end of this commit. */
  readonly bytes: number;
}

/**
 * The primary's side of one standby's link, from the cut on: the live
 * records, acks and commits as the journal takes them, and meanwhile a
 * snapshot of everything live at the cut, read back from the journal's
 * files. The standby is in sync once it acknowledges a commit shipped after
 * the snapshot's end; from then on `acknowledgedCommit` says how far confirms
 * may go.
 */
export class PrimarySession implements ShippedStream {
  private readonly out = new Encoder();
  /** The journal's number of the newest commit shipped. */
  private lastShipped = 0;
  private readonly shipped: ShippedCommit[] = [];
  /** Acknowledging this commit or a later one means the standby holds the snapshot too. */
  private inSyncFrom = Infinity;
  inSync = false;
  /** The newest commit the standby acknowledged as durable. */
  acknowledgedCommit = 0;
  /** Sequence number of the newest record that commit covered. */
  private acknowledgedSeq = 0;
  private bytesShipped = 0;
  private bytesAcknowledged = 0;
  private ended = false;
  private readonly lagTimer: NodeJS.Timeout;

  constructor(
    private readonly link: Link,
    /** The standby's node identity, as its Hello told it (empty without automatic failover). */
    readonly standbyId: string,
    private readonly host: SessionHost,
  ) {
    link.onFrame((frame) => {
      if (frame.type !== FrameType.Durable) throw new LinkProtocolError(`unexpected frame type ${frame.type} from the standby`);
      this.acknowledged(decodeFrame(frame, 'durable', (d) => d.u64()));
    });
    this.lagTimer = setInterval(() => this.checkLag(), 250).unref();
  }

  get peer(): string {
    return this.link.peer;
  }

  /** How far the standby is behind: records, bytes and seconds not yet acknowledged. */
  get lag(): { records: number; bytes: number; seconds: number } {
    const oldest = this.shipped[0];
    return {
      records: Math.max(0, this.host.journal.lastSeq - this.acknowledgedSeq),
      bytes: this.bytesShipped + this.out.length - this.bytesAcknowledged,
      seconds: oldest === undefined ? 0 : (performance.now() - oldest.shippedAt) / 1000,
    };
  }

  /** Ships from the next commit on, then streams the snapshot of what was live before it. */
  async run(): Promise<void> {
    const cut = await this.host.journal.startShipping(this);
    if (this.ended) return;
    await this.sendSnapshot(cut);
    if (this.ended) return;
    this.host.journal.unpin();
    this.inSyncFrom = this.lastShipped + 1;
    // A commit to acknowledge, should the journal be quiet.
    void this.host.journal.flush();
  }

  end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.lagTimer);
    this.host.journal.stopShipping();
    this.link.end(reason);
    this.host.ended(this, reason);
  }

  started(cut: JournalCut): void {
    encodeFrame(this.out, FrameType.Session, (e) => {
      e.u32(cut.epoch);
      e.u16(this.host.amqpPort);
      e.bytes(cut.definitions);
    });
  }

  // The per-message frames are written field by field: their sizes are known, and a closure per message costs.
  record(location: StoredLocation, bytes: Buffer): void {
    const e = this.out;
    e.u32(1 + 8 + bytes.length);
    e.u8(FrameType.Record);
    e.u32(location.segment);
    e.u32(location.offset);
    e.bytes(bytes);
  }

  definition(bytes: Buffer): void {
    encodeFrame(this.out, FrameType.Definition, (e) => e.bytes(bytes));
  }

  ack(type: AckType, queueId: number, location: StoredLocation): void {
    const e = this.out;
    e.u32(1 + 1 + 4 + 8);
    e.u8(FrameType.Ack);
    e.u8(type);
    e.u32(queueId);
    e.u32(location.segment);
    e.u32(location.offset);
  }

  moved(from: StoredLocation, to: StoredLocation): void {
    encodeFrame(this.out, FrameType.Moved, (e) => {
      e.u64(packLocation(from.segment, from.offset));
      e.u64(packLocation(to.segment, to.offset));
    });
  }

  commit(number: number): void {
    this.lastShipped = number;
    const coveredSeq = this.host.journal.lastSeq;
    encodeFrame(this.out, FrameType.Commit, (e) => {
      e.u64(number);
      e.u64(coveredSeq);
    });
    const bytes = this.out.take();
    this.bytesShipped += bytes.length;
    this.shipped.push({ number, coveredSeq, shippedAt: performance.now(), bytes: this.bytesShipped });
    this.link.send(bytes);
    if (this.link.unsentBytes > MAX_UNSENT_BYTES) this.end(`the standby reads too slowly: ${this.link.unsentBytes} bytes unsent`);
  }

  private acknowledged(number: number): void {
    // A standby vouching for a commit it was never sent would release confirms for nothing.
    if (number > this.lastShipped || number < this.acknowledgedCommit) throw new LinkProtocolError(`the standby acknowledged commit ${number}; the last one shipped is ${this.lastShipped}`);
    this.acknowledgedCommit = number;
    while (this.shipped.length > 0 && this.shipped[0]!.number <= number) {
      const commit = this.shipped.shift()!;
      this.acknowledgedSeq = Math.max(this.acknowledgedSeq, commit.coveredSeq);
      this.bytesAcknowledged = commit.bytes;
    }
    if (!this.inSync && number >= this.inSyncFrom) {
      this.inSync = true;
      this.host.log.info({ standby: this.peer, seq: this.acknowledgedSeq }, 'replication: the standby is in sync; confirms wait for it from now on');
    }
    if (this.inSync) this.host.changed();
  }

  /** A standby in sync that stops acknowledging (its disk stuck, its process paused) holds confirms back: dropped after the timeout. */
  private checkLag(): void {
    const oldest = this.shipped[0];
    if (!this.inSync || oldest === undefined) return;
    const waited = performance.now() - oldest.shippedAt;
    if (waited > this.host.timeoutMs) this.end(`the standby has not acknowledged a commit for ${Math.round(waited)} ms (timeout ${this.host.timeoutMs} ms)`);
  }

  private async sendSnapshot(cut: JournalCut): Promise<void> {
    const { log, journalDir, fs } = this.host;
    const total = cut.segments.reduce((sum, s) => sum + s.msgsEnd, 0);
    const started = performance.now();
    let scanned = 0;
    let records = 0;
    let bytes = 0;
    let lastProgress = started;
    const e = new Encoder();
    log.info({ standby: this.peer, segments: cut.segments.length, journalBytes: total }, 'replication: sending the standby a snapshot of the live records');
    for await (const item of liveRecordsAt(journalDir, fs, cut)) {
      if ('scannedBytes' in item) {
        scanned += item.scannedBytes;
        const now = performance.now();
        if (now - lastProgress < PROGRESS_MS) continue;
        lastProgress = now;
        const seconds = (now - started) / 1000;
        log.info({ standby: this.peer, records, bytes, percent: Math.round((100 * scanned) / Math.max(total, 1)), mibPerSecond: +(bytes / 1048576 / seconds).toFixed(1) }, 'replication: snapshot in progress');
        continue;
      }
      // Encoded here, before the next record is read: the record's bytes are views the reader reuses.
      encodeFrame(e, FrameType.SnapshotRecord, (f) => {
        f.u32(item.key.segment);
        f.u32(item.key.offset);
        f.u16(item.delivered.length);
        for (const id of item.delivered) f.u32(id);
        writeMessageRecord(f, { ...item.record, queueIds: item.holders, movedFrom: undefined });
      });
      records++;
      if (e.length >= SNAPSHOT_WRITE_BYTES) bytes += await this.sendSnapshotRun(e);
      if (this.ended) return;
    }
    encodeFrame(e, FrameType.SnapshotEnd, (f) => {
      f.u64(records);
      f.u64(bytes);
    });
    bytes += await this.sendSnapshotRun(e);
    const ms = Math.round(performance.now() - started);
    log.info({ standby: this.peer, records, bytes, ms, mibPerSecond: +(bytes / 1048576 / Math.max(ms / 1000, 0.001)).toFixed(1) }, 'replication: snapshot sent');
  }

  /** Writes the snapshot frames encoded so far, waiting while the socket is full: the snapshot never piles up in memory. */
  private async sendSnapshotRun(e: Encoder): Promise<number> {
    const run = e.take();
    if (!this.link.send(run)) await this.link.drained();
    return run.length;
  }
}
