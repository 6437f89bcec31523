import { crc32 } from 'node:zlib';

/**
 * Entries of a segment's .acks file: what happened to the messages stored in
 * that segment, per queue. Fixed size, each with its own checksum, so a torn
 * tail is recognised and dropped:
 *
 *   u8 type   AckType
 *   u32 queue id
 *   u32 offset of the message record in the segment's .msgs file
 *   u32 crc32 of the nine bytes before it
 */
export const AckType = {
  /** Gone from the queue: acked, rejected, purged, expired or dropped. */
  Removed: 1,
  /** Delivered and not yet acked: comes back with redelivered=true after a crash. */
  Delivered: 2,
} as const;
export type AckType = (typeof AckType)[keyof typeof AckType];

export const ACK_ENTRY_SIZE = 13;

export function writeAckEntry(target: Buffer, at: number, type: AckType, queueId: number, offset: number): void {
  target[at] = type;
  target.writeUInt32BE(queueId, at + 1);
  target.writeUInt32BE(offset, at + 5);
  target.writeUInt32BE(crc32(target.subarray(at, at + 9)), at + 9);
}

export interface AckEntry {
  readonly type: number;
  readonly queueId: number;
  readonly offset: number;
}

/** The entries of an .acks file up to the first damaged one (whatever follows it is not trusted). */
export function readAckEntries(bytes: Buffer, start: number): { entries: AckEntry[]; validEnd: number } {
  const entries: AckEntry[] = [];
  let at = start;
  for (; at + ACK_ENTRY_SIZE <= bytes.length; at += ACK_ENTRY_SIZE) {
    if (crc32(bytes.subarray(at, at + 9)) !== bytes.readUInt32BE(at + 9)) break;
    entries.push({ type: bytes[at]!, queueId: bytes.readUInt32BE(at + 1), offset: bytes.readUInt32BE(at + 5) });
  }
  return { entries, validEnd: at };
}

/** Which queues still hold a stored message, and which of them have delivered it unacked. */
export interface Holders {
  readonly queueIds: number[];
  delivered: Set<number> | undefined;
}

/** Applies ack entries to the messages of their segment, found by record offset. */
export function applyAckEntries(entries: Iterable<AckEntry>, byOffset: ReadonlyMap<number, Holders>): void {
  for (const e of entries) {
    const m = byOffset.get(e.offset);
    if (m !== undefined) applyAckEntry(m, e);
  }
}

/** Applies one ack entry to the message it names. */
export function applyAckEntry(m: Holders, e: AckEntry): void {
  if (e.type === AckType.Delivered) {
    (m.delivered ??= new Set()).add(e.queueId);
    return;
  }
  const i = m.queueIds.indexOf(e.queueId);
  if (i >= 0) m.queueIds.splice(i, 1);
  m.delivered?.delete(e.queueId);
}
