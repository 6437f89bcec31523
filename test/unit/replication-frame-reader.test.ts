import t from 'tap';
import { Encoder } from '../../src/protocol/encoder.js';
import { encodeFrame, FrameReader, FrameType, LinkProtocolError } from '../../src/replication/wire.js';
import { seeded } from '../support/seeded-random.js';

/** Frames of assorted sizes, one after another, as a sender writes them. */
function stream(sizes: readonly number[]): Buffer {
  const e = new Encoder();
  for (const [i, size] of sizes.entries()) encodeFrame(e, FrameType.Record, (f) => f.bytes(Buffer.alloc(size, i % 251)));
  return Buffer.from(e.take());
}

t.test('frames come out whole and in order however the stream is cut', async (t) => {
  const random = seeded(7);
  const sizes = Array.from({ length: 300 }, () => Math.floor(random() * 3000));
  const bytes = stream(sizes);
  for (const maxChunk of [1, 3, 5, 64, 1000, 70_000]) {
    const reader = new FrameReader();
    const got: Buffer[] = [];
    for (let at = 0; at < bytes.length; ) {
      const n = 1 + Math.floor(random() * maxChunk);
      for (const f of reader.push(bytes.subarray(at, at + n))) got.push(Buffer.from(f.payload));
      at += n;
    }
    t.same(got.map((b) => b.length), sizes, `sizes with chunks of up to ${maxChunk} bytes`);
    t.ok(got.every((b, i) => b.every((x) => x === i % 251)), 'contents');
  }
});

t.test('a frame length out of range is a protocol error', async (t) => {
  t.throws(() => new FrameReader().push(Buffer.from([0, 0, 0, 0, 1])), LinkProtocolError);
  t.throws(() => new FrameReader().push(Buffer.from([0x7f, 0xff, 0xff, 0xff, 1])), LinkProtocolError);
  const split = new FrameReader();
  t.same(split.push(Buffer.from([0x7f, 0xff])), []);
  t.throws(() => split.push(Buffer.from([0xff, 0xff])), LinkProtocolError, 'also when its length arrives in pieces');
});
