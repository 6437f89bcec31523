import t from 'tap';
import { FrameReader, type FrameSink } from '../../src/framing/frame-reader.js';
import { AmqpError } from '../../src/protocol/amqp-error.js';

interface Frame {
  type: number;
  channel: number;
  payload: Buffer;
}

function encode(f: Frame, end = 0xce): Buffer {
  const b = Buffer.alloc(8 + f.payload.length);
  b[0] = f.type;
  b.writeUInt16BE(f.channel, 1);
  b.writeUInt32BE(f.payload.length, 3);
  f.payload.copy(b, 7);
  b[7 + f.payload.length] = end;
  return b;
}

function patterned(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** Collects copies of delivered frames (payloads are only valid during onFrame), and views of what was delivered. */
class Collector implements FrameSink {
  frames: Frame[] = [];
  raw: Buffer[] = [];
  onFrame(type: number, channel: number, buf: Buffer, start: number, end: number): void {
    const payload = buf.subarray(start, end);
    this.raw.push(payload);
    this.frames.push({ type, channel, payload: Buffer.from(payload) });
  }
}

// mulberry32: small seeded PRNG so random splits are reproducible.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const MAX = 131072;

const FRAMES: Frame[] = [
  { type: 1, channel: 1, payload: patterned(12, 1) }, // method
  { type: 2, channel: 1, payload: patterned(14, 2) }, // content header
  { type: 3, channel: 1, payload: Buffer.alloc(0) }, // empty body frame
  { type: 8, channel: 0, payload: Buffer.alloc(0) }, // heartbeat
  { type: 3, channel: 65535, payload: patterned(1, 3) },
  { type: 3, channel: 7, payload: patterned(10_000, 4) }, // large
  { type: 1, channel: 300, payload: patterned(6, 5) },
  { type: 2, channel: 2, payload: patterned(255, 6) },
  { type: 8, channel: 0, payload: Buffer.alloc(0) }, // heartbeat at the very end
];
const STREAM = Buffer.concat(FRAMES.map((f) => encode(f)));

function feed(chunks: Buffer[], max = MAX): Collector {
  const c = new Collector();
  const r = new FrameReader(c, max);
  for (const ch of chunks) r.push(ch);
  return c;
}

/** Compact equality check (t.same on thousands of runs is slow and noisy). */
function sameFrames(got: Frame[], want: Frame[]): string | null {
  if (got.length !== want.length) return `got ${got.length} frames, want ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (g.type !== w.type || g.channel !== w.channel || !g.payload.equals(w.payload)) {
      return `frame ${i} differs: type ${g.type}/${w.type} channel ${g.channel}/${w.channel} len ${g.payload.length}/${w.payload.length}`;
    }
  }
  return null;
}

t.test('whole stream in one chunk', async (t) => {
  const c = feed([STREAM]);
  t.equal(sameFrames(c.frames, FRAMES), null);
  // Frames inside one chunk are zero-copy slices of it.
  for (const p of c.raw) t.equal(p.buffer, STREAM.buffer, 'slice of the chunk');
});

t.test('every two-chunk split point', async (t) => {
  let failures = 0;
  for (let i = 0; i <= STREAM.length; i++) {
    const err = sameFrames(feed([STREAM.subarray(0, i), STREAM.subarray(i)]).frames, FRAMES);
    if (err !== null) {
      failures++;
      if (failures < 5) t.fail(`split at ${i}: ${err}`);
    }
  }
  t.equal(failures, 0, `all ${STREAM.length + 1} split points`);
});

t.test('one byte at a time', async (t) => {
  const chunks: Buffer[] = [];
  for (let i = 0; i < STREAM.length; i++) chunks.push(STREAM.subarray(i, i + 1));
  t.equal(sameFrames(feed(chunks).frames, FRAMES), null);
});

t.test('seeded random multi-way splits, with empty chunks', async (t) => {
  const rand = rng(0x5eed);
  let failures = 0;
  const runs = 500;
  for (let run = 0; run < runs; run++) {
    const cuts = 1 + Math.floor(rand() * 40);
    const points: number[] = [];
    for (let k = 0; k < cuts; k++) points.push(Math.floor(rand() * (STREAM.length + 1)));
    points.sort((a, b) => a - b);
    const chunks: Buffer[] = [];
    let prev = 0;
    for (const p of points) {
      chunks.push(STREAM.subarray(prev, p)); // may be empty (repeated cut)
      prev = p;
    }
    chunks.push(STREAM.subarray(prev));
    const err = sameFrames(feed(chunks).frames, FRAMES);
    if (err !== null) {
      failures++;
      if (failures < 5) t.fail(`run ${run} (${points.join(',')}): ${err}`);
    }
  }
  t.equal(failures, 0, `${runs} random splits`);
});

t.test('empty chunk in every intermediate state', async (t) => {
  const chunks: Buffer[] = [];
  for (let i = 0; i < STREAM.length; i++) chunks.push(STREAM.subarray(i, i + 1), Buffer.alloc(0));
  t.equal(sameFrames(feed(chunks).frames, FRAMES), null);
});

t.test('split header, payload in the next chunk: zero-copy slice', async (t) => {
  const f: Frame = { type: 3, channel: 9, payload: patterned(100, 7) };
  const bytes = encode(f);
  const second = bytes.subarray(3);
  const c = feed([bytes.subarray(0, 3), second]);
  t.equal(sameFrames(c.frames, [f]), null);
  t.equal(c.raw[0]!.buffer, bytes.buffer);
});

t.test('a frame spanning chunks is assembled into its own buffer', async (t) => {
  const f: Frame = { type: 3, channel: 4, payload: patterned(5000, 8) };
  const bytes = encode(f);
  const a = Buffer.from(bytes.subarray(0, 1000));
  const b = Buffer.from(bytes.subarray(1000, 3000));
  const d = Buffer.from(bytes.subarray(3000));
  const c = new Collector();
  const r = new FrameReader(c, MAX);
  r.push(a);
  a.fill(0); // the reader must have copied what it needed
  r.push(b);
  b.fill(0);
  r.push(d);
  t.equal(c.raw.length, 1);
  t.equal(c.raw[0]!.length, 5000);
  t.not(c.raw[0]!.buffer, d.buffer, 'not a slice of the last chunk');
  d.fill(0);
  t.ok(c.raw[0]!.equals(f.payload), 'assembled payload is independent of the input chunks');
});

t.test('bad frame end', async (t) => {
  const good = encode({ type: 1, channel: 1, payload: patterned(20, 9) });
  const bad = encode({ type: 1, channel: 1, payload: patterned(20, 10) }, 0xcd);
  const stream = Buffer.concat([good, bad, good]);

  t.test('in one chunk', async (t) => {
    const c = new Collector();
    const r = new FrameReader(c, MAX);
    t.throws(() => r.push(stream), AmqpError);
    t.equal(c.frames.length, 1, 'the good frame before it was delivered');
  });

  t.test('at every split point', async (t) => {
    let failures = 0;
    for (let i = 0; i <= stream.length; i++) {
      const c = new Collector();
      const r = new FrameReader(c, MAX);
      let thrown: unknown = null;
      try {
        r.push(stream.subarray(0, i));
        r.push(stream.subarray(i));
      } catch (e) {
        thrown = e;
      }
      if (!(thrown instanceof AmqpError) || c.frames.length !== 1) {
        failures++;
        if (failures < 5) t.fail(`split ${i}: thrown=${String(thrown)} frames=${c.frames.length}`);
      }
    }
    t.equal(failures, 0);
  });

  t.test('error details, and the reader is dead afterwards', async (t) => {
    const c = new Collector();
    const r = new FrameReader(c, MAX);
    let err: unknown;
    try {
      r.push(bad);
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof AmqpError);
    t.ok(err instanceof Error);
    t.equal((err as AmqpError).replyCode, 501);
    t.match((err as AmqpError).message, /frame end/);
    t.doesNotThrow(() => r.push(good));
    t.equal(c.frames.length, 0, 'nothing delivered after an error');
  });
});

t.test('frame size limit', async (t) => {
  const header = (size: number): Buffer => {
    const h = Buffer.alloc(7);
    h[0] = 3;
    h.writeUInt16BE(1, 1);
    h.writeUInt32BE(size, 3);
    return h;
  };

  t.test('default limit before tune-ok is 4096', async (t) => {
    const r = new FrameReader(new Collector());
    t.equal(r.maxFrameSize, 4096);
    t.throws(() => r.push(header(4089)), AmqpError);
  });

  t.test('oversized frame rejected from the 7 header bytes alone', async (t) => {
    const r = new FrameReader(new Collector(), 4096);
    t.throws(() => r.push(header(4089)), AmqpError, '4089 + 8 = 4097 > 4096');
    const r2 = new FrameReader(new Collector(), 4096);
    t.throws(() => r2.push(header(0xffffffff)), /exceeds frame_max/);
  });

  t.test('oversized header split across chunks', async (t) => {
    const h = header(5000);
    for (let i = 1; i < 7; i++) {
      const r = new FrameReader(new Collector(), 4096);
      t.doesNotThrow(() => r.push(h.subarray(0, i)), `first ${i} bytes`);
      t.throws(() => r.push(h.subarray(i)), AmqpError, `rest after ${i}`);
    }
  });

  t.test('oversized header after a good frame in the same chunk', async (t) => {
    const c = new Collector();
    const r = new FrameReader(c, 4096);
    const good = encode({ type: 1, channel: 1, payload: patterned(10, 1) });
    t.throws(() => r.push(Buffer.concat([good, header(10_000)])), AmqpError);
    t.equal(c.frames.length, 1);
  });

  t.test('a frame exactly at maxFrameSize is accepted', async (t) => {
    const f: Frame = { type: 3, channel: 1, payload: patterned(4096 - 8, 11) };
    const bytes = encode(f);
    t.equal(bytes.length, 4096);
    t.equal(sameFrames(feed([bytes], 4096).frames, [f]), null, 'one chunk');
    t.equal(sameFrames(feed([bytes.subarray(0, 7), bytes.subarray(7)], 4096).frames, [f]), null, 'header alone first');
    t.equal(sameFrames(feed([bytes.subarray(0, 3), bytes.subarray(3)], 4096).frames, [f]), null, 'split header');
  });

  t.test('changing maxFrameSize takes effect', async (t) => {
    const c = new Collector();
    const r = new FrameReader(c, 4096);
    const big: Frame = { type: 3, channel: 1, payload: patterned(10_000, 12) };
    r.maxFrameSize = 131072; // tune-ok
    r.push(encode(big));
    t.equal(sameFrames(c.frames, [big]), null, 'raised limit accepts the big frame');
    r.maxFrameSize = 8192;
    t.throws(() => r.push(encode(big)), AmqpError, 'lowered limit rejects it');

    const r2 = new FrameReader(new Collector(), 4096);
    t.throws(() => r2.push(encode(big)), AmqpError, 'unchanged limit rejects it');
  });
});

t.test('stopped flag', async (t) => {
  const frames = [1, 2, 3, 4].map((n) => ({ type: 1, channel: n, payload: patterned(n * 3, n) }));
  const stream = Buffer.concat(frames.map((f) => encode(f)));

  const stopAt = (channel: number): { c: Collector; r: FrameReader } => {
    const c = new Collector();
    const r: FrameReader = new FrameReader(
      {
        onFrame(type, ch, buf, start, end) {
          c.onFrame(type, ch, buf, start, end);
          if (ch === channel) r.stopped = true;
        },
      },
      MAX,
    );
    return { c, r };
  };

  t.test('mid-chunk', async (t) => {
    const { c, r } = stopAt(2);
    r.push(stream);
    t.same(c.frames.map((f) => f.channel), [1, 2]);
    r.push(stream);
    t.same(c.frames.map((f) => f.channel), [1, 2], 'later pushes deliver nothing');
  });

  t.test('at every split point', async (t) => {
    let failures = 0;
    for (let i = 0; i <= stream.length; i++) {
      const { c, r } = stopAt(2);
      r.push(stream.subarray(0, i));
      r.push(stream.subarray(i));
      const chans = c.frames.map((f) => f.channel).join(',');
      if (chans !== '1,2') {
        failures++;
        if (failures < 5) t.fail(`split ${i}: got ${chans}`);
      }
    }
    t.equal(failures, 0);
  });

  t.test('one byte at a time', async (t) => {
    const { c, r } = stopAt(3);
    for (let i = 0; i < stream.length; i++) r.push(stream.subarray(i, i + 1));
    t.same(c.frames.map((f) => f.channel), [1, 2, 3]);
  });
});

t.test('an exception from the sink leaves the reader unusable', async (t) => {
  let calls = 0;
  const r = new FrameReader(
    {
      onFrame() {
        calls++;
        throw new Error('boom');
      },
    },
    MAX,
  );
  t.throws(() => r.push(STREAM), /boom/);
  t.doesNotThrow(() => r.push(STREAM));
  t.equal(calls, 1);
});
