import * as BufferLayout from 'buffer-layout';
import { crc32 } from 'node:zlib';

/** First bytes of every journal file: "AMQJ", then the format version. */
export const SEGMENT_MAGIC = 0x414d514a;
/** 2: the header carries the synced-length marker, and definitions are journal records. */
export const SEGMENT_FORMAT_VERSION = 2;

export const SegmentKind = {
  Messages: 1,
  Acks: 2,
} as const;
export type SegmentKind = (typeof SegmentKind)[keyof typeof SegmentKind];

export interface SegmentHeader {
  magic: number;
  version: number;
  kind: number;
  reserved: number;
  segment: number;
  /** .msgs: bytes of the file known to be on disk when the header was last written (0 in .acks files). */
  syncedLength: number;
  /** CRC-32 of the segment number and syncedLength. */
  markerCrc: number;
}

// A cold, fixed structure read once per file: the place buffer-layout is for.
const layout = BufferLayout.struct<SegmentHeader>([
  BufferLayout.u32be('magic'),
  BufferLayout.u16be('version'),
  BufferLayout.u8('kind'),
  BufferLayout.u8('reserved'),
  BufferLayout.u32be('segment'),
  BufferLayout.u32be('syncedLength'),
  BufferLayout.u32be('markerCrc'),
]);

export const SEGMENT_HEADER_SIZE: number = layout.span;
/** Where the synced-length marker (length, then its checksum) sits in the header. */
export const SYNCED_MARKER_OFFSET = 12;

export function encodeSegmentHeader(kind: SegmentKind, segment: number): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_SIZE);
  layout.encode({ magic: SEGMENT_MAGIC, version: SEGMENT_FORMAT_VERSION, kind, reserved: 0, segment, syncedLength: 0, markerCrc: markerCrc(segment, 0) }, b);
  return b;
}

/**
 * The 8 bytes written over the marker at each commit: `length` bytes of the
 * .msgs file are known to be on disk. Recovery takes damage below it for
 * corruption, never for a torn write. Eight bytes in one sector are written
 * whole or not at all.
 */
export function encodeSyncedMarker(segment: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeUInt32BE(length, 0);
  b.writeUInt32BE(markerCrc(segment, length), 4);
  return b;
}

function markerCrc(segment: number, length: number): number {
  const b = Buffer.allocUnsafe(8);
  b.writeUInt32BE(segment, 0);
  b.writeUInt32BE(length, 4);
  return crc32(b);
}

export type HeaderCheck =
  | { readonly ok: true; readonly syncedLength: number }
  | { readonly ok: false; readonly reason: string; readonly olderFormat: boolean };

/** Reads a header, with a reason when it is not one this version can read. */
export function checkSegmentHeader(bytes: Buffer, kind: SegmentKind, segment: number): HeaderCheck {
  const bad = (reason: string, olderFormat = false): HeaderCheck => ({ ok: false, reason, olderFormat });
  if (bytes.length < 8) return bad('file shorter than its header');
  const magic = bytes.readUInt32BE(0);
  const version = bytes.readUInt16BE(4);
  if (magic !== SEGMENT_MAGIC) return bad('not a journal file (bad magic)');
  if (version < SEGMENT_FORMAT_VERSION) return bad(`written by an earlier version of the broker (journal format ${version}, this one reads ${SEGMENT_FORMAT_VERSION})`, true);
  if (version !== SEGMENT_FORMAT_VERSION) return bad(`unsupported journal format version ${version}`);
  if (bytes.length < SEGMENT_HEADER_SIZE) return bad('file shorter than its header');
  const h = layout.decode(bytes);
  if (h.kind !== kind) return bad(`file kind ${h.kind}, expected ${kind}`);
  if (h.segment !== segment) return bad(`header names segment ${h.segment}, file name says ${segment}`);
  if (h.markerCrc !== markerCrc(segment, h.syncedLength)) return bad('the synced-length marker fails its checksum');
  return { ok: true, syncedLength: h.syncedLength };
}
