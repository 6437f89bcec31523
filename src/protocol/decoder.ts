import { AmqpError } from './amqp-error.js';
import { ReplyCode } from './generated/amqp-constants.js';
import { type FieldTable, type FieldValue, TypedValue } from './field-value.js';

/**
 * Field tables nest; RabbitMQ has no limit (it accepts 5000 levels), but
 * recursion in JS does: the encoder overflows the default stack near 4000.
 * Anything deeper than this is refused as undecodable (501) rather than
 * risking a stack overflow anywhere a table is walked.
 */
export const MAX_TABLE_DEPTH = 1000;

const TWO_32 = 0x1_0000_0000;

/**
 * Reads AMQP primitive types from one frame's payload. Running past the end
 * is a FRAME_ERROR (501), as RabbitMQ reports undecodable method frames.
 */
export class Decoder {
  pos: number;

  constructor(
    public buf: Buffer,
    start = 0,
    public end = buf.length,
  ) {
    this.pos = start;
  }

  /** Points the decoder at new bytes, so one instance serves every frame of a connection. */
  reset(buf: Buffer, start = 0, end = buf.length): this {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    return this;
  }

  private need(n: number): number {
    const at = this.pos;
    if (at + n > this.end) throw truncated();
    this.pos = at + n;
    return at;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  u8(): number {
    return this.buf[this.need(1)]!;
  }

  u16(): number {
    return this.buf.readUInt16BE(this.need(2));
  }

  u32(): number {
    return this.buf.readUInt32BE(this.need(4));
  }

  /** 64-bit unsigned as a number; delivery tags and timestamps stay far below 2^53. */
  u64(): number {
    const at = this.need(8);
    return this.buf.readUInt32BE(at) * TWO_32 + this.buf.readUInt32BE(at + 4);
  }

  shortstr(): string {
    const len = this.u8();
    // The default exchange's name, in nearly every publish: no native call for it.
    if (len === 0) return '';
    const at = this.need(len);
    return this.buf.toString('utf8', at, at + len);
  }

  longstrBytes(): Buffer {
    const len = this.u32();
    const at = this.need(len);
    return this.buf.subarray(at, at + len);
  }

  longstr(): string {
    const len = this.u32();
    const at = this.need(len);
    return this.buf.toString('utf8', at, at + len);
  }

  timestamp(): Date {
    return new Date(this.u64() * 1000);
  }

  table(depth = 0): FieldTable {
    const len = this.u32();
    const stop = this.need(len) + len;
    const saved = this.end;
    this.pos -= len;
    this.end = stop;
    const table: FieldTable = {};
    while (this.pos < stop) {
      const key = this.shortstr();
      const value = this.value(depth + 1);
      // Assigning to __proto__ would change the prototype instead of storing a key.
      if (key === '__proto__') Object.defineProperty(table, key, { value, enumerable: true, writable: true, configurable: true });
      else table[key] = value;
    }
    this.end = saved;
    return table;
  }

  /** Skips a table without decoding it (used to reach properties that follow headers). */
  skipTable(): void {
    this.need(this.u32());
  }

  private array(depth: number): FieldValue[] {
    const len = this.u32();
    const stop = this.need(len) + len;
    const saved = this.end;
    this.pos -= len;
    this.end = stop;
    const values: FieldValue[] = [];
    while (this.pos < stop) values.push(this.value(depth + 1));
    this.end = saved;
    return values;
  }

  private value(depth: number): FieldValue {
    if (depth > MAX_TABLE_DEPTH) {
      throw new AmqpError(ReplyCode.FRAME_ERROR, `field table nested deeper than ${MAX_TABLE_DEPTH} levels`);
    }
    const tag = this.u8();
    const b = this.buf;
    switch (tag) {
      case 0x74 /* t */: return this.u8() !== 0;
      case 0x62 /* b */: return new TypedValue('b', b.readInt8(this.need(1)));
      case 0x42 /* B */: return new TypedValue('B', this.u8());
      case 0x73 /* s */: return new TypedValue('s', b.readInt16BE(this.need(2)));
      case 0x75 /* u */: return new TypedValue('u', this.u16());
      case 0x49 /* I */: return b.readInt32BE(this.need(4));
      case 0x69 /* i */: return new TypedValue('i', this.u32());
      case 0x6c /* l */: return int64(b.readBigInt64BE(this.need(8)));
      case 0x66 /* f */: return new TypedValue('f', b.readFloatBE(this.need(4)));
      case 0x64 /* d */: return double(b.readDoubleBE(this.need(8)));
      case 0x44 /* D */: {
        const places = this.u8();
        return new TypedValue('D', { places, digits: b.readInt32BE(this.need(4)) });
      }
      case 0x53 /* S */: return this.longstr();
      case 0x78 /* x */: return Buffer.from(this.longstrBytes());
      case 0x41 /* A */: return this.array(depth);
      case 0x54 /* T */: return this.timestamp();
      case 0x46 /* F */: return this.table(depth);
      case 0x56 /* V */: return null;
      default:
        throw new AmqpError(ReplyCode.FRAME_ERROR, `unknown field table type '${String.fromCharCode(tag)}'`);
    }
  }
}

function truncated(): AmqpError {
  return new AmqpError(ReplyCode.FRAME_ERROR, 'frame payload truncated');
}

/** int64 decodes to a number when exact (the encoder writes integers beyond int32 as 'l'). */
function int64(v: bigint): number | bigint | TypedValue {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) return v;
  // Small values would re-encode as 'I'; pin the tag so they round-trip.
  return n >= -0x8000_0000 && n <= 0x7fff_ffff ? new TypedValue('l', n) : n;
}

/** A double with an integral value would re-encode as an integer; pin its tag. */
function double(v: number): number | TypedValue {
  return Number.isInteger(v) ? new TypedValue('d', v) : v;
}
