/**
 * Micro-benchmark of the frame reader: ~2 million 50-byte frames (the size of
 * a small basic.publish method frame) fed in 64 KiB chunks, as a socket
 * would deliver them. Prints frames/s. A number, not a pass/fail test.
 *
 *   npx tsc -p . && node dist/bench/frame-reader.bench.js
 */
import { FrameReader, type FrameSink } from '../src/framing/frame-reader.js';

const FRAME_SIZE = 50;
const PAYLOAD = FRAME_SIZE - 8;
const TARGET_FRAMES = 2_000_000;
const CHUNK = 64 * 1024;
const ROUNDS = 5;

// One stream of frames, cut into 64 KiB chunks (so frames straddle chunk
// boundaries exactly as they would on a socket).
const frame = Buffer.alloc(FRAME_SIZE);
frame[0] = 1;
frame.writeUInt16BE(1, 1);
frame.writeUInt32BE(PAYLOAD, 3);
frame.writeUInt16BE(60, 7); // basic
frame.writeUInt16BE(40, 9); // publish
frame[FRAME_SIZE - 1] = 0xce;

const stream = Buffer.alloc(TARGET_FRAMES * FRAME_SIZE);
for (let off = 0; off < stream.length; off += FRAME_SIZE) frame.copy(stream, off);
const chunks: Buffer[] = [];
for (let off = 0; off < stream.length; off += CHUNK) chunks.push(stream.subarray(off, off + CHUNK));

class CountingSink implements FrameSink {
  frames = 0;
  bytes = 0;
  onFrame(_type: number, channel: number, _buf: Buffer, start: number, end: number): void {
    this.frames++;
    this.bytes += end - start + channel;
  }
}

function round(): { frames: number; ns: bigint; check: number } {
  const sink = new CountingSink();
  const reader = new FrameReader(sink, 131072);
  const t0 = process.hrtime.bigint();
  for (const c of chunks) reader.push(c);
  const ns = process.hrtime.bigint() - t0;
  return { frames: sink.frames, ns, check: sink.bytes };
}

round(); // warm-up
let best = 0;
for (let i = 0; i < ROUNDS; i++) {
  const { frames, ns, check } = round();
  if (frames !== TARGET_FRAMES || check !== TARGET_FRAMES * (PAYLOAD + 1)) {
    throw new Error(`wrong result: ${frames} frames, check ${check}`);
  }
  const rate = (frames / Number(ns)) * 1e9;
  if (rate > best) best = rate;
  console.log(`round ${i + 1}: ${frames} frames in ${(Number(ns) / 1e6).toFixed(1)} ms = ${(rate / 1e6).toFixed(2)} M frames/s`);
}
console.log(`best: ${(best / 1e6).toFixed(2)} M frames/s (${FRAME_SIZE}-byte frames, ${CHUNK / 1024} KiB chunks)`);
