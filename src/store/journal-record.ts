import { crc32 } from 'node:zlib';
import { Decoder } from '../protocol/decoder.js';
import type { Encoder } from '../protocol/encoder.js';

/**
 * Message records of the journal (.msgs files). Layout, big-endian:
 *
 *   u32 length    bytes after this field, checksum included
 *   u32 crc32     CRC-32 (zlib's, IEEE polynomial) of everything after this field
 *   u32 epoch     replication epoch the record was written in
 *   u64 seq       the message's sequence number, increasing; unique among the records on disk
 *   u8  type      RecordType, plus DUE_FLAG when a due time follows
 *   [u32 source]  Moved only: the segment the record was copied from
 *   [u64 dueAt]   with DUE_FLAG: when a delayed exchange routes the message (ms since the epoch)
 *   payload       Enqueue and Moved: u16 queue count, that many u32 queue ids,
 *                 shortstr exchange, shortstr routing key,
 *                 u32 + bytes raw properties, u32 + bytes body;
 *                 Definition: one operation, Snapshot: every definition
 *                 (definition-records.ts)
 *
 * spec/storage-format.md describes the files around it.
 */
export const RecordType = {
  Enqueue: 1,
  /** A live record copied out of a segment being compacted; it counts only once its source segment is gone. */
  Moved: 2,
  /** A declare, delete, bind or unbind of something durable. */
  Definition: 3,
  /** Every durable definition at this point: the first record of each segment. */
  Snapshot: 4,
  /** Stands where damaged bytes were, once --force-recover set them aside: read over, never holds anything. */
  Skipped: 5,
  /** A segment about to be deleted (u32 segment number): from here on its absence is no loss. */
  Retired: 6,
} as const;

/** Set in the type octet of a message a delayed exchange holds: its due time follows. */
const DUE_FLAG = 0x80;

/** length + crc32 + epoch + seq + type */
export const RECORD_OVERHEAD = 4 + 4 + 4 + 8 + 1;

export interface MessageRecord {
  readonly epoch: number;
  readonly seq: number;
  readonly queueIds: readonly number[];
  readonly exchange: string;
  readonly routingKey: string;
  readonly rawProperties: Buffer;
  readonly body: Buffer;
  /** For a Moved record, the segment it was copied from. */
  readonly movedFrom?: number | undefined;
  /** For a message held by a delayed exchange (its id in queueIds): when it is routed, ms since the epoch. */
  readonly dueAt?: number | undefined;
}

/** Appends a record (Moved when `movedFrom` is set, else Enqueue) to the encoder; returns its size in bytes. */
export function writeMessageRecord(e: Encoder, r: MessageRecord): number {
  const start = e.pos - e.start;
  e.u32(0); // length, patched below
  e.u32(0); // crc, patched below
  e.u32(r.epoch);
  e.u64(r.seq);
  const due = r.dueAt === undefined ? 0 : DUE_FLAG;
  if (r.movedFrom === undefined) {
    e.u8(RecordType.Enqueue | due);
  } else {
    e.u8(RecordType.Moved | due);
    e.u32(r.movedFrom);
  }
  if (r.dueAt !== undefined) e.u64(r.dueAt);
  e.u16(r.queueIds.length);
  for (const id of r.queueIds) e.u32(id);
  e.shortstr(r.exchange);
  e.shortstr(r.routingKey);
  e.longstr(r.rawProperties);
  e.longstr(r.body);
  return sealRecord(e, start);
}

/**
 * Appends a Definition, Snapshot or Retired record whose payload
 * `writePayload` encodes; returns its size in bytes.
 */
export function writePayloadRecord(
  e: Encoder,
  epoch: number,
  seq: number,
  type: typeof RecordType.Definition | typeof RecordType.Snapshot | typeof RecordType.Retired,
  writePayload: (e: Encoder) => void,
): number {
  const start = e.pos - e.start;
  e.u32(0);
  e.u32(0);
  e.u32(epoch);
  e.u64(seq);
  e.u8(type);
  writePayload(e);
  return sealRecord(e, start);
}

/** Patches the length and checksum of the record written since `start` (relative to the untaken bytes). */
function sealRecord(e: Encoder, start: number): number {
  const at = e.start + start;
  const size = e.pos - at;
  e.buf.writeUInt32BE(size - 4, at);
  e.buf.writeUInt32BE(crc32(e.buf.subarray(at + 8, e.pos)), at + 4);
  return size;
}

/** A Definition or Snapshot record: its payload is a view into the bytes read (definition-records.ts decodes it). */
export interface DefinitionRecord {
  readonly epoch: number;
  readonly seq: number;
  readonly snapshot: boolean;
  readonly payload: Buffer;
}

/**
 * Writes a Skipped record over exactly `length` bytes of `target` at
 * `offset` (at least RECORD_OVERHEAD), so the offsets after it stay valid.
 */
export function writeSkippedRecord(target: Buffer, offset: number, length: number): void {
  const end = offset + length;
  target.fill(0, offset + 8, end);
  target.writeUInt32BE(length - 4, offset);
  target[offset + RECORD_OVERHEAD - 1] = RecordType.Skipped;
  target.writeUInt32BE(crc32(target.subarray(offset + 8, end)), offset + 4);
}

/**
 * Checks that `bytes` hold exactly one intact message record and returns its
 * sequence number and queue count, without decoding the rest: what a standby
 * needs of each record it is sent. Undefined when the record does not check out.
 */
export function messageRecordHeader(bytes: Buffer): { readonly seq: number; readonly queueCount: number } | undefined {
  if (bytes.length < RECORD_OVERHEAD + 2 || bytes.readUInt32BE(0) !== bytes.length - 4) return undefined;
  if (crc32(bytes.subarray(8)) !== bytes.readUInt32BE(4)) return undefined;
  const typeOctet = bytes[RECORD_OVERHEAD - 1]!;
  if ((typeOctet & ~DUE_FLAG) !== RecordType.Enqueue) return undefined;
  const countAt = RECORD_OVERHEAD + ((typeOctet & DUE_FLAG) !== 0 ? 8 : 0);
  if (countAt + 2 > bytes.length) return undefined;
  return { seq: bytes.readUInt32BE(12) * 0x1_0000_0000 + bytes.readUInt32BE(16), queueCount: bytes.readUInt16BE(countAt) };
}

export type ReadResult =
  | { readonly kind: 'record'; readonly record: MessageRecord; readonly size: number }
  | { readonly kind: 'definition'; readonly definition: DefinitionRecord; readonly size: number }
  | { readonly kind: 'skipped'; readonly size: number }
  | { readonly kind: 'retired'; readonly epoch: number; readonly seq: number; readonly segment: number; readonly size: number }
  | { readonly kind: 'end' }
  | { readonly kind: 'bad'; readonly reason: string };

/**
 * Reads the record at `offset` of `bytes`; its properties and body (or a
 * definition's payload) are views into `bytes`. 'end' when no bytes remain (or only
 * zero padding); 'bad' for a short, torn or corrupt record.
 */
export function readRecord(bytes: Buffer, offset: number): ReadResult {
  const available = bytes.length - offset;
  if (available === 0) return { kind: 'end' };
  if (available < 4) return { kind: 'bad', reason: 'truncated length field' };
  const length = bytes.readUInt32BE(offset);
  if (length === 0) return { kind: 'end' };
  if (length < RECORD_OVERHEAD - 4 || length > available - 4) return { kind: 'bad', reason: `record length ${length} runs past the end of the file` };
  const end = offset + 4 + length;
  const stored = bytes.readUInt32BE(offset + 4);
  if (crc32(bytes.subarray(offset + 8, end)) !== stored) return { kind: 'bad', reason: 'checksum mismatch' };
  const d = new Decoder(bytes, offset + 8, end);
  try {
    const epoch = d.u32();
    const seq = d.u64();
    const typeOctet = d.u8();
    if (typeOctet === RecordType.Definition || typeOctet === RecordType.Snapshot) {
      const definition = { epoch, seq, snapshot: typeOctet === RecordType.Snapshot, payload: bytes.subarray(d.pos, end) };
      return { kind: 'definition', definition, size: 4 + length };
    }
    if (typeOctet === RecordType.Skipped) return { kind: 'skipped', size: 4 + length };
    if (typeOctet === RecordType.Retired) return { kind: 'retired', epoch, seq, segment: d.u32(), size: 4 + length };
    const type = typeOctet & ~DUE_FLAG;
    if (type !== RecordType.Enqueue && type !== RecordType.Moved) return { kind: 'bad', reason: `unknown record type ${typeOctet}` };
    const movedFrom = type === RecordType.Moved ? d.u32() : undefined;
    const dueAt = (typeOctet & DUE_FLAG) !== 0 ? d.u64() : undefined;
    const count = d.u16();
    const queueIds: number[] = [];
    for (let i = 0; i < count; i++) queueIds.push(d.u32());
    const exchange = d.shortstr();
    const routingKey = d.shortstr();
    // Views into `bytes`: recovery only looks, and read() copies what it keeps.
    const rawProperties = d.longstrBytes();
    const body = d.longstrBytes();
    return { kind: 'record', record: { epoch, seq, queueIds, exchange, routingKey, rawProperties, body, movedFrom, dueAt }, size: 4 + length };
  } catch {
    return { kind: 'bad', reason: 'record fields run past its length' };
  }
}
