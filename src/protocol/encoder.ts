import { AmqpError } from './amqp-error.js';
import { copyRange } from './copy-range.js';
import { ReplyCode } from './generated/amqp-constants.js';
import { type FieldTable, type FieldValue, TypedValue } from './field-value.js';

const CHUNK_SIZE = 64 * 1024;
/** Up to this length a shortstr is written by asciiShortstr; past it Buffer.write is faster. */
const SHORT_ASCII = 16;
const TWO_32 = 0x1_0000_0000;

/** A shortstr's wire form (length octet, then UTF-8), for a string written with every message. */
export function shortstrBytes(s: string): Buffer {
  const utf8 = Buffer.from(s, 'utf8');
  if (utf8.length > 255) throw new AmqpError(ReplyCode.INTERNAL_ERROR, `short string longer than 255 bytes: ${s.slice(0, 40)}…`);
  return Buffer.concat([Buffer.of(utf8.length), utf8]);
}

/**
 * Writes AMQP primitives into a reusable chunk. Written bytes are handed out
 * with take() as a slice; the chunk is never rewritten under a slice that was
 * taken, so slices can go straight to socket.write without copying.
 */
export class Encoder {
  buf: Buffer = Buffer.allocUnsafe(CHUNK_SIZE);
  /** Start of the bytes not yet taken. */
  start = 0;
  pos = 0;

  /** Makes room for n more bytes, moving the untaken bytes to a new chunk if needed. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const pending = this.pos - this.start;
    const next = Buffer.allocUnsafe(Math.max(CHUNK_SIZE, (pending + n) * 2));
    this.buf.copy(next, 0, this.start, this.pos);
    this.buf = next;
    this.start = 0;
    this.pos = pending;
  }

  get length(): number {
    return this.pos - this.start;
  }

  /** The bytes written since the last take(). */
  take(): Buffer {
    const out = this.buf.subarray(this.start, this.pos);
    this.start = this.pos;
    return out;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  // Byte stores rather than writeUInt*BE, whose range checks cost more than
  // the write on paths taken several times per message.
  u16(v: number): void {
    this.ensure(2);
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 8;
    b[p + 1] = v;
    this.pos = p + 2;
  }

  u32(v: number): void {
    this.ensure(4);
    this.put32(v);
  }

  u64(v: number): void {
    this.ensure(8);
    const hi = Math.floor(v / TWO_32);
    this.put32(hi);
    this.put32(v - hi * TWO_32);
  }

  private put32(v: number): void {
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 24;
    b[p + 1] = v >>> 16;
    b[p + 2] = v >>> 8;
    b[p + 3] = v;
    this.pos = p + 4;
  }

  bytes(b: Buffer): void {
    this.ensure(b.length);
    // TypedArray.set is cheaper than Buffer.copy for the small buffers written per message.
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** The bytes of `b` from `start` to `end`. */
  range(b: Buffer, start: number, end: number): void {
    this.ensure(end - start);
    copyRange(b, start, end, this.buf, this.pos);
    this.pos += end - start;
  }

  shortstr(s: string): void {
    this.ensure(1 + s.length * 3);
    if (s.length <= SHORT_ASCII && this.asciiShortstr(s)) return;
    const written = this.buf.write(s, this.pos + 1, 'utf8');
    if (written > 255) {
      throw new AmqpError(ReplyCode.INTERNAL_ERROR, `short string longer than 255 bytes: ${s.slice(0, 40)}…`);
    }
    this.buf[this.pos] = written;
    this.pos += 1 + written;
  }

  /**
   * Writes a short ASCII string byte by byte: for the few characters of a
   * routing key or exchange name this beats Buffer.write's native call.
   * Returns false, having written nothing that counts, on a non-ASCII character.
   */
  private asciiShortstr(s: string): boolean {
    const buf = this.buf;
    const at = this.pos + 1;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) return false;
      buf[at + i] = c;
    }
    buf[this.pos] = s.length;
    this.pos = at + s.length;
    return true;
  }

  longstr(s: string | Buffer): void {
    if (typeof s !== 'string') {
      this.u32(s.length);
      this.bytes(s);
      return;
    }
    this.ensure(4 + s.length * 3);
    const written = this.buf.write(s, this.pos + 4, 'utf8');
    this.buf.writeUInt32BE(written, this.pos);
    this.pos += 4 + written;
  }

  timestamp(d: Date): void {
    this.u64(Math.floor(d.getTime() / 1000));
  }

  table(t: FieldTable | undefined): void {
    const lengthAt = this.reserveLength();
    if (t !== undefined) {
      for (const key of Object.keys(t)) {
        const value = t[key];
        if (value === undefined) continue;
        this.shortstr(key);
        this.value(value);
      }
    }
    this.patchLength(lengthAt);
  }

  private array(values: readonly FieldValue[]): void {
    const lengthAt = this.reserveLength();
    for (const v of values) this.value(v);
    this.patchLength(lengthAt);
  }

  /** Offsets are kept relative to `start`: ensure() may move the bytes to a new chunk. */
  private reserveLength(): number {
    this.ensure(4);
    const at = this.pos - this.start;
    this.pos += 4;
    return at;
  }

  private patchLength(relativeAt: number): void {
    const at = this.start + relativeAt;
    this.buf.writeUInt32BE(this.pos - at - 4, at);
  }

  private value(v: FieldValue): void {
    if (v === null) return this.u8(0x56 /* V */);
    switch (typeof v) {
      case 'boolean':
        this.u8(0x74 /* t */);
        return this.u8(v ? 1 : 0);
      case 'string':
        this.u8(0x53 /* S */);
        return this.longstr(v);
      case 'number':
        if (Number.isInteger(v) && v >= -0x8000_0000 && v <= 0x7fff_ffff) return this.typed('I', v);
        return this.typed(Number.isInteger(v) ? 'l' : 'd', v);
      case 'bigint':
        return this.typed('l', v);
    }
    if (v instanceof TypedValue) return this.typed(v.type, v.value);
    if (Buffer.isBuffer(v)) {
      this.u8(0x78 /* x */);
      return this.longstr(v);
    }
    if (v instanceof Date) {
      this.u8(0x54 /* T */);
      return this.timestamp(v);
    }
    if (Array.isArray(v)) {
      this.u8(0x41 /* A */);
      return this.array(v);
    }
    this.u8(0x46 /* F */);
    this.table(v);
  }

  private typed(type: TypedValue['type'], v: TypedValue['value']): void {
    this.ensure(9);
    const b = this.buf;
    b[this.pos++] = type.charCodeAt(0);
    if (typeof v === 'object') {
      b[this.pos++] = v.places;
      this.pos = b.writeInt32BE(v.digits, this.pos);
      return;
    }
    const n = Number(v);
    switch (type) {
      case 't': b[this.pos++] = n ? 1 : 0; return;
      case 'b': this.pos = b.writeInt8(n, this.pos); return;
      case 'B': this.pos = b.writeUInt8(n, this.pos); return;
      case 's': this.pos = b.writeInt16BE(n, this.pos); return;
      case 'u': this.pos = b.writeUInt16BE(n, this.pos); return;
      case 'I': this.pos = b.writeInt32BE(n, this.pos); return;
      case 'i': this.pos = b.writeUInt32BE(n, this.pos); return;
      case 'l': this.pos = b.writeBigInt64BE(BigInt(v), this.pos); return;
      case 'f': this.pos = b.writeFloatBE(n, this.pos); return;
      case 'd': this.pos = b.writeDoubleBE(n, this.pos); return;
      case 'T': this.u64(n); return;
      default:
        throw new AmqpError(ReplyCode.INTERNAL_ERROR, `cannot encode a number as field type '${type}'`);
    }
  }
}
