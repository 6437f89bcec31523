import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Encoder } from '../../src/protocol/encoder.js';
import type { FieldTable } from '../../src/protocol/field-value.js';
import { MethodId } from '../../src/protocol/generated/amqp-methods.js';
import { readSpec, type SpecField, type SpecMethod } from '../../spec/spec-model.js';
import { bodyFrame, FrameType, frameBytes, headerFrame, methodFrame, plainResponse, PROTOCOL_HEADER } from './raw-client.js';

const SPEC = readSpec(readFileSync(fileURLToPath(new URL('../../spec/amqp0-9-1.stripped.extended.xml', import.meta.url)), 'utf8'));
/** Every method of the specification, those only a server sends included: a client may send anything. */
const METHODS: readonly SpecMethod[] = SPEC.classes.flatMap((c) => c.methods);
/** Names a fuzzed method often uses, so that it reaches what exists, not only "not found". */
const NAMES = ['', 'amq.direct', 'amq.topic', 'amq.fanout', 'amq.headers', 'amq.default', 'fuzz', 'fuzz.q', 'fuzz.x', 'amq.rabbitmq.reply-to', 'amq.gen-x'];

/**
 * Inputs for fuzzing the broker over the wire, from a seeded random source:
 * a valid login (start-ok, tune-ok, open) and channel.open, then frames of
 * methods picked from the whole specification with random field values (a
 * publish with its header and body), and then, mostly, mutated bytes:
 * flipped, inserted, deleted, repeated or cut; sometimes random bytes only.
 */
export class FrameFuzzer {
  constructor(private readonly random: () => number) {}

  input(): Buffer {
    const roll = this.random();
    if (roll < 0.03) return this.bytes(this.int(0, 300));
    if (roll < 0.06) return Buffer.concat([PROTOCOL_HEADER, this.bytes(this.int(0, 300))]);
    const login = this.login();
    const frames = Buffer.concat(Array.from({ length: this.int(1, 8) }, () => this.methodFrames()));
    if (roll < 0.3) return Buffer.concat([login, frames]);
    return roll < 0.85 ? Buffer.concat([login, this.mutate(frames)]) : this.mutate(Buffer.concat([login, frames]));
  }

  private login(): Buffer {
    return Buffer.concat([
      PROTOCOL_HEADER,
      methodFrame(0, { id: MethodId.ConnectionStartOk, clientProperties: { product: 'fuzz' }, mechanism: 'PLAIN', response: plainResponse('guest', 'guest'), locale: 'en_US' }),
      methodFrame(0, { id: MethodId.ConnectionTuneOk, channelMax: 2047, frameMax: 131072, heartbeat: 0 }),
      methodFrame(0, { id: MethodId.ConnectionOpen, virtualHost: '/' }),
      methodFrame(1, { id: MethodId.ChannelOpen }),
    ]);
  }

  private methodFrames(): Buffer {
    const method = this.pick(METHODS);
    const channel = this.random() < 0.9 ? 1 : this.int(0, 3);
    const e = new Encoder();
    e.u16(method.classIndex);
    e.u16(method.index);
    this.fields(e, method.fields);
    const frames = [frameBytes(FrameType.method, channel, Buffer.from(e.take()))];
    if (method.hasContent) {
      const body = this.bytes(this.int(0, 64));
      frames.push(headerFrame(channel, body.length, this.random() < 0.5 ? {} : { deliveryMode: this.int(0, 3), priority: this.int(0, 12), expiration: String(this.int(-1, 100)), headers: this.table(1) }));
      if (body.length > 0) frames.push(bodyFrame(channel, body));
    }
    return Buffer.concat(frames);
  }

  private fields(e: Encoder, fields: readonly SpecField[]): void {
    let bits = 0;
    let bitCount = 0;
    const flushBits = (): void => {
      if (bitCount > 0) e.u8(bits);
      bits = 0;
      bitCount = 0;
    };
    for (const f of fields) {
      if (f.type === 'bit') {
        if (this.random() < 0.5) bits |= 1 << bitCount;
        if (++bitCount === 8) flushBits();
        continue;
      }
      flushBits();
      switch (f.type) {
        case 'octet':
          e.u8(this.int(0, 255));
          break;
        case 'short':
          e.u16(this.random() < 0.7 ? this.int(0, 10) : this.int(0, 0xffff));
          break;
        case 'long':
          e.u32(this.random() < 0.7 ? this.int(0, 10) : this.int(0, 0xffffffff));
          break;
        case 'longlong':
        case 'timestamp':
          e.u64(this.int(0, 1000));
          break;
        case 'shortstr':
          e.shortstr(this.name());
          break;
        case 'longstr':
          e.longstr(this.bytes(this.int(0, 40)));
          break;
        case 'table':
          e.table(this.table(2));
          break;
        default:
          throw new Error(`no generator for field type ${f.type}`);
      }
    }
    flushBits();
  }

  private table(depth: number): FieldTable {
    const t: Record<string, unknown> = {};
    const keys = ['x-message-ttl', 'x-expires', 'x-max-length', 'x-dead-letter-exchange', 'x-queue-type', 'x-max-priority', 'x-match', 'alternate-exchange', 'x-delay', 'CC', 'x-overflow', 'x-single-active-consumer', 'k'];
    for (let i = this.int(0, 3); i > 0; i--) {
      const kind = this.int(0, 5);
      t[this.pick(keys)] = kind === 0 ? this.int(-5, 100000) : kind === 1 ? this.name() : kind === 2 ? this.random() < 0.5 : kind === 3 && depth > 0 ? this.table(depth - 1) : kind === 4 ? [this.name(), this.int(0, 9)] : this.random() * 10;
    }
    return t as FieldTable;
  }

  private mutate(input: Buffer): Buffer {
    let out = Buffer.from(input);
    for (let n = this.int(1, 4); n > 0 && out.length > 0; n--) {
      const at = this.int(0, out.length - 1);
      switch (this.int(0, 4)) {
        case 0:
          out[at] = this.int(0, 255);
          break;
        case 1:
          out = Buffer.concat([out.subarray(0, at), this.bytes(this.int(1, 16)), out.subarray(at)]);
          break;
        case 2:
          out = Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + this.int(1, 32)))]);
          break;
        case 3:
          out = Buffer.concat([out.subarray(0, at), out.subarray(at, at + this.int(1, 64)), out.subarray(at)]);
          break;
        default:
          out = out.subarray(0, at);
      }
    }
    return out;
  }

  private name(): string {
    const r = this.random();
    if (r < 0.7) return this.pick(NAMES);
    if (r < 0.95) return this.bytes(this.int(1, 12)).toString('latin1');
    return 'n'.repeat(255);
  }

  private bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(this.random() * 256);
    return b;
  }

  private int(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }
}
