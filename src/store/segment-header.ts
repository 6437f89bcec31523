import * as BufferLayout from 'buffer-layout';

/** First bytes of every journal file: "AMQJ", then the format version. */
export const SEGMENT_MAGIC = 0x414d514a;
export const SEGMENT_FORMAT_VERSION = 1;

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
}

// A cold, fixed structure read once per file: the place buffer-layout is for.
const layout = BufferLayout.struct<SegmentHeader>([
  BufferLayout.u32be('magic'),
  BufferLayout.u16be('version'),
  BufferLayout.u8('kind'),
  BufferLayout.u8('reserved'),
  BufferLayout.u32be('segment'),
]);

export const SEGMENT_HEADER_SIZE: number = layout.span;

export function encodeSegmentHeader(kind: SegmentKind, segment: number): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_SIZE);
  layout.encode({ magic: SEGMENT_MAGIC, version: SEGMENT_FORMAT_VERSION, kind, reserved: 0, segment }, b);
  return b;
}

/** Returns a reason the header is not one this version can read, or undefined. */
export function checkSegmentHeader(bytes: Buffer, kind: SegmentKind, segment: number): string | undefined {
  if (bytes.length < SEGMENT_HEADER_SIZE) return 'file shorter than its header';
  const h = layout.decode(bytes);
  if (h.magic !== SEGMENT_MAGIC) return 'not a journal file (bad magic)';
  if (h.version !== SEGMENT_FORMAT_VERSION) return `unsupported journal format version ${h.version}`;
  if (h.kind !== kind) return `file kind ${h.kind}, expected ${kind}`;
  if (h.segment !== segment) return `header names segment ${h.segment}, file name says ${segment}`;
  return undefined;
}
