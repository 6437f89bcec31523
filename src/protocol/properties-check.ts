import { MAX_TABLE_DEPTH } from './decoder.js';
import { PropertyFlag } from './generated/basic-properties.js';

const SHORTSTR = 0;
const TABLE = 1;
const OCTET = 2;
const LONGLONG = 3;

/** The basic properties in wire order, with how each is encoded. */
const LAYOUT = [
  [PropertyFlag.ContentType, SHORTSTR],
  [PropertyFlag.ContentEncoding, SHORTSTR],
  [PropertyFlag.Headers, TABLE],
  [PropertyFlag.DeliveryMode, OCTET],
  [PropertyFlag.Priority, OCTET],
  [PropertyFlag.CorrelationId, SHORTSTR],
  [PropertyFlag.ReplyTo, SHORTSTR],
  [PropertyFlag.Expiration, SHORTSTR],
  [PropertyFlag.MessageId, SHORTSTR],
  [PropertyFlag.Timestamp, LONGLONG],
  [PropertyFlag.Type, SHORTSTR],
  [PropertyFlag.UserId, SHORTSTR],
  [PropertyFlag.AppId, SHORTSTR],
  [PropertyFlag.Reserved, SHORTSTR],
] as const;

/** Bytes of the fixed-size field values, by type tag. */
const FIXED_SIZE: Readonly<Record<number, number>> = { 0x74: 1, 0x62: 1, 0x42: 1, 0x73: 2, 0x75: 2, 0x49: 4, 0x69: 4, 0x6c: 8, 0x66: 4, 0x64: 8, 0x44: 5, 0x54: 8, 0x56: 0 };

class Malformed extends Error {}

/**
 * Whether a content header's property list (`raw` from `start` to `end`)
 * holds together: every length inside it, field tables included. A publish is checked once, without decoding anything, so that a
 * message queued here can always be decoded later (when it expires into a
 * dead-letter exchange, say, in the middle of another client's command).
 * Returns what is wrong, or undefined.
 */
export function propertiesProblem(raw: Buffer, start: number, end: number): string | undefined {
  try {
    const flags = u16At(raw, start, end);
    let at = start + 2;
    // Further flags words (bit 0) are skipped, as the decoder does: 0-9-1 defines no properties in them.
    for (let more = flags; (more & 1) !== 0; at += 2) more = u16At(raw, at, end);
    for (const [flag, kind] of LAYOUT) {
      if ((flags & flag) !== 0) at = skip(raw, at, end, kind);
    }
    return undefined;
  } catch (err) {
    if (err instanceof Malformed) return err.message;
    throw err;
  }
}

function skip(raw: Buffer, at: number, end: number, kind: number): number {
  switch (kind) {
    case SHORTSTR:
      return within(at + 1 + byteAt(raw, at, end), end);
    case OCTET:
      return within(at + 1, end);
    case LONGLONG:
      return within(at + 8, end);
    default:
      return skipTable(raw, at, end, 0);
  }
}

function skipTable(raw: Buffer, at: number, end: number, depth: number): number {
  const stop = within(at + 4 + u32At(raw, at, end), end);
  let p = at + 4;
  while (p < stop) {
    p = within(p + 1 + byteAt(raw, p, stop), stop);
    p = skipValue(raw, p, stop, depth + 1);
  }
  return stop;
}

function skipValue(raw: Buffer, at: number, end: number, depth: number): number {
  if (depth > MAX_TABLE_DEPTH) throw new Malformed(`field table nested deeper than ${MAX_TABLE_DEPTH} levels`);
  const tag = byteAt(raw, at, end);
  const fixed = FIXED_SIZE[tag];
  if (fixed !== undefined) return within(at + 1 + fixed, end);
  switch (tag) {
    case 0x53 /* S */:
    case 0x78 /* x */:
      return within(at + 5 + u32At(raw, at + 1, end), end);
    case 0x46 /* F */:
      return skipTable(raw, at + 1, end, depth);
    case 0x41 /* A */: {
      const stop = within(at + 5 + u32At(raw, at + 1, end), end);
      let p = at + 5;
      while (p < stop) p = skipValue(raw, p, stop, depth + 1);
      return stop;
    }
    default:
      throw new Malformed(`unknown field table type '${String.fromCharCode(tag)}'`);
  }
}

function byteAt(raw: Buffer, at: number, end: number): number {
  if (at >= end) throw new Malformed('a property runs past the end of the property list');
  return raw[at]!;
}

function u16At(raw: Buffer, at: number, end: number): number {
  if (at + 2 > end) throw new Malformed('the property list is cut short');
  return raw.readUInt16BE(at);
}

function u32At(raw: Buffer, at: number, end: number): number {
  if (at + 4 > end) throw new Malformed('a property runs past the end of the property list');
  return raw.readUInt32BE(at);
}

function within(next: number, end: number): number {
  if (next > end) throw new Malformed('a property runs past the end of the property list');
  return next;
}
