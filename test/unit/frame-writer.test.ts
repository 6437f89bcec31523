import t from 'tap';
import { FrameReader } from '../../src/framing/frame-reader.js';
import { FrameWriter } from '../../src/framing/frame-writer.js';
import { FrameConstant } from '../../src/protocol/generated/amqp-constants.js';

const FRAME_MAX = 131072;

interface Frame {
  type: number;
  channel: number;
  payload: Buffer;
}

/** Everything the writer hands to the socket, read back by the broker's own frame reader. */
function writtenFrames(write: (w: FrameWriter) => void): Frame[] {
  const chunks: Buffer[] = [];
  const writer = new FrameWriter({ writeChunks: (c) => chunks.push(...c.map((b) => Buffer.from(b))), beforeFlush: () => {} });
  writer.frameMax = FRAME_MAX;
  write(writer);
  writer.flush();
  const frames: Frame[] = [];
  const reader = new FrameReader({ onFrame: (type, channel, buf, start, end) => void frames.push({ type, channel, payload: Buffer.from(buf.subarray(start, end)) }) }, FRAME_MAX);
  reader.push(Buffer.concat(chunks));
  return frames;
}

function patterned(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + 3) & 0xff;
  return b;
}

t.test('frame headers carry channel numbers above 255 and sizes above 65535', async (t) => {
  // A property list longer than 64 KiB makes a content header frame whose size needs three bytes.
  const properties = patterned(70_000);
  const body = patterned(300_000);
  const data = Buffer.concat([properties, body]);
  const frames = writtenFrames((w) =>
    w.deliver(0x1234, Buffer.from('\x03tag'), 7, false, 'ex', 'rk', { data, start: 0, bodyStart: properties.length, end: data.length }),
  );
  t.same(
    frames.map((f) => [f.type, f.channel]),
    [
      [FrameConstant.FRAME_METHOD, 0x1234],
      [FrameConstant.FRAME_HEADER, 0x1234],
      [FrameConstant.FRAME_BODY, 0x1234],
      [FrameConstant.FRAME_BODY, 0x1234],
      [FrameConstant.FRAME_BODY, 0x1234],
    ],
  );
  const header = frames[1]!.payload;
  t.equal(header.length, 12 + properties.length, 'content header frame size');
  t.ok(header.subarray(12).equals(properties), 'property bytes as given');
  t.ok(Buffer.concat(frames.slice(2).map((f) => f.payload)).equals(body), 'the body, split at frame_max');
});

t.test('a small body on a low channel is copied into the same chunk intact', async (t) => {
  const data = Buffer.concat([Buffer.from([0, 0]), Buffer.from('hello')]);
  const frames = writtenFrames((w) => {
    w.content(1, { data, start: 0, bodyStart: 2, end: data.length });
    w.heartbeat();
  });
  t.same(
    frames.map((f) => [f.type, f.channel, f.payload.length]),
    [
      [FrameConstant.FRAME_HEADER, 1, 14],
      [FrameConstant.FRAME_BODY, 1, 5],
      [FrameConstant.FRAME_HEARTBEAT, 0, 0],
    ],
  );
  t.equal(frames[1]!.payload.toString(), 'hello');
});
