import type { Logger } from 'pino';
import type { DefaultAccess } from '../auth/tenancy.js';
import { Tenancy } from '../auth/tenancy.js';
import { Decoder } from '../protocol/decoder.js';
import { AckType } from '../store/ack-entry.js';
import { RestoredEntities } from '../store/apply-definitions.js';
import { readDefinitionOp, readSnapshot, writeSnapshot } from '../store/definition-records.js';
import { collectDefinitions, StoredIds } from '../store/durable-store.js';
import { Journal } from '../store/journal.js';
import { messageRecordHeader, readRecord } from '../store/journal-record.js';
import type { StoreFs } from '../store/store-fs.js';
import { packLocation, type StoredLocation, unpackLocation } from '../store/stored-location.js';
import { LocatedRecords } from './located-records.js';
import { LinkProtocolError } from './wire.js';

/** Where the primary stored a record: how its frames name it. */
export type PrimaryKey = StoredLocation;

export interface MirrorOptions {
  readonly segmentSize: number;
  readonly compactionLookMs?: number | undefined;
  /** The journal failed (an I/O error): nothing more can be made durable here. */
  onFailure(err: Error): void;
}

/**
 * A standby's copy of its primary's durable state, for one session: its own
 * journal, in which the primary's records are written as the primary wrote
 * them (same epoch, sequence numbers and bytes), with ack entries of its
 * own; and the definitions, applied as recovery applies them, so every
 * segment's snapshot is right. Queues are not filled: a promotion recovers
 * the journal as any restart would. The primary names records by where it
 * stored them ("keys"); `located` maps each live one to where it is here.
 */
export class Mirror {
  /** Primary's key → packed location here, for every record some queue still holds. */
  private readonly located = new LocatedRecords();
  /** Packed location here → queues still holding it, for records held by more than one. */
  private readonly holders = new Map<number, number>();
  /** While the snapshot arrives: acks for records it has not brought yet. */
  private early: Map<number, [AckType, number][]> | undefined = new Map();

  private constructor(
    readonly journal: Journal,
    private readonly restored: RestoredEntities,
  ) {}

  /** Opens a fresh journal in `dir` for a session in `epoch`, with the primary's definitions at the cut. */
  static async begin(dir: string, fs: StoreFs, log: Logger, epoch: number, definitions: Buffer, defaults: DefaultAccess, options: MirrorOptions): Promise<Mirror> {
    const tenancy = new Tenancy(new Set(), undefined);
    const restored = new RestoredEntities(tenancy, defaults);
    restored.restore(decodeDefinitions(definitions));
    const journal = await Journal.open(
      dir,
      fs,
      log,
      { segmentSize: options.segmentSize, epoch, compactionLookMs: options.compactionLookMs },
      {
        isQueue: (id) => restored.queues.has(id) || restored.delayed.has(id),
        restore: () => {},
        isRetired: () => false,
        writeSnapshot: (e) => writeSnapshot(e, collectDefinitions(tenancy, new StoredIds(restored))),
        onFailure: (err) => options.onFailure(err),
      },
    );
    return new Mirror(journal, restored);
  }

  /** A message record the primary stored at `key`: live (after the cut) or from the snapshot, with the queues that had delivered it. */
  message(key: PrimaryKey, bytes: Buffer, delivered: readonly number[] = []): void {
    const header = messageRecordHeader(bytes);
    if (header === undefined) throw new LinkProtocolError('a shipped message record does not check out');
    const holders = header.queueCount;
    const here = this.journal.appendShipped(bytes, header.seq, holders);
    const packed = packLocation(here.segment, here.offset);
    this.located.set(key.segment, key.offset, packed);
    if (holders > 1) this.holders.set(packed, holders);
    for (const queueId of delivered) this.journal.delivered(queueId, here);
    if (this.early === undefined) return;
    const packedKey = packLocation(key.segment, key.offset);
    const early = this.early.get(packedKey);
    if (early === undefined) return;
    this.early.delete(packedKey);
    for (const [type, queueId] of early) this.ack(type, queueId, key);
  }

  definition(bytes: Buffer): void {
    const result = readRecord(bytes, 0);
    if (result.kind !== 'definition' || result.definition.snapshot || result.size !== bytes.length) throw new LinkProtocolError('a shipped definition record does not check out');
    const op = readDefinitionOp(new Decoder(result.definition.payload));
    // Applied first: one that does not apply drops the link before anything of it is stored.
    this.restored.apply(op);
    this.journal.appendShipped(bytes, result.definition.seq, 0);
  }

  ack(type: AckType, queueId: number, key: PrimaryKey): void {
    const packed = this.located.get(key.segment, key.offset);
    if (packed === undefined) {
      // Only a snapshot record still on its way can be unknown; anything else was never live here.
      const early = this.early?.get(packLocation(key.segment, key.offset));
      if (early !== undefined) early.push([type, queueId]);
      else this.early?.set(packLocation(key.segment, key.offset), [[type, queueId]]);
      return;
    }
    const here = unpackLocation(packed);
    if (type === AckType.Delivered) {
      this.journal.delivered(queueId, here);
      return;
    }
    this.journal.removed(queueId, here);
    const left = (this.holders.get(packed) ?? 1) - 1;
    if (left > 0) {
      this.holders.set(packed, left);
      return;
    }
    this.holders.delete(packed);
    this.located.delete(key.segment, key.offset);
  }

  moved(from: PrimaryKey, to: PrimaryKey): void {
    const packed = this.located.get(from.segment, from.offset);
    if (packed === undefined) return;
    this.located.delete(from.segment, from.offset);
    this.located.set(to.segment, to.offset, packed);
  }

  /** The snapshot is all here: from now on an ack for an unknown record is for one that was never live here. */
  snapshotEnded(): void {
    this.early = undefined;
  }

  close(): Promise<void> {
    return this.journal.close();
  }
}

function decodeDefinitions(bytes: Buffer): ReturnType<typeof readSnapshot> {
  try {
    return readSnapshot(new Decoder(bytes));
  } catch (err) {
    throw new LinkProtocolError(`the primary's definitions do not decode: ${(err as Error).message}`);
  }
}
