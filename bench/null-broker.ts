/**
 * A "null broker" to measure the load generator's own ceiling: it completes
 * the handshake, answers every setup method with its -ok, discards
 * publishes (confirming them, one basic.ack multiple per socket read, on
 * confirm channels), and feeds every consumer a stream of deliveries made
 * from the first message published to it (honouring prefetch with manual
 * acks). It does no routing and keeps nothing, so whatever limits a run
 * against it is the generator.
 *
 * With --echo it forwards each publish to every consumer the moment its body
 * arrives instead: the latency floor, what a broker that did no work at all
 * would show to the same generator on the same machine.
 *
 *   node dist/bench/null-broker.js [--port 5699] [--echo]
 */
import { createServer, type Server, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { FrameReader } from '../src/framing/frame-reader.js';
import { Decoder } from '../src/protocol/decoder.js';
import { Encoder } from '../src/protocol/encoder.js';
import { FrameConstant } from '../src/protocol/generated/amqp-constants.js';
import { decodeMethod, type Method, MethodId } from '../src/protocol/generated/amqp-methods.js';
import { frame, methodFrame, PROTOCOL_HEADER } from './amqp/frames.js';

const FRAME_MAX = 131072;
const TWO_32 = 0x1_0000_0000;
const FRAME_OVERHEAD = 8;
/** Deliveries per socket write, and writes per turn before yielding to reads. */
const DELIVERY_BATCH = 256;
const WRITES_PER_TURN = 8;

/** The first message published to the broker: every delivery is a copy of it. */
let template: { readonly header: Buffer; readonly body: Buffer } | undefined;
let pendingHeader: Buffer | undefined;
const waitingForTemplate = new Set<() => void>();

interface EchoConsumer {
  readonly socket: Socket;
  readonly channel: number;
  /** Its basic.deliver frame, delivery tag at `tagAt` patched per message. */
  readonly deliver: Buffer;
  readonly tagAt: number;
  delivered: number;
}
/** Set in echo mode: every consumer of every connection, each publish goes to all. */
let echoConsumers: EchoConsumer[] | undefined;

interface DeliveryStream {
  readonly channel: number;
  readonly noAck: boolean;
  readonly prefetch: number;
  /** One delivery's bytes repeated DELIVERY_BATCH times; tags patched per write. */
  batch: Buffer | undefined;
  size: number;
  tagAt: number;
  delivered: number;
  acked: number;
}

/** basic.deliver (tag 0, to be patched), the content header and body frames. */
function deliveryBytes(channel: number, consumerTag: string, t: NonNullable<typeof template>): { bytes: Buffer; tagAt: number } {
  const method = frame(FrameConstant.FRAME_METHOD, channel, (e: Encoder) => {
    e.u32(MethodId.BasicDeliver);
    e.shortstr(consumerTag);
    e.u64(0);
    e.u8(0);
    e.shortstr('');
    e.shortstr('');
  });
  const header = frame(FrameConstant.FRAME_HEADER, channel, (e) => e.bytes(t.header));
  const body = frame(FrameConstant.FRAME_BODY, channel, (e) => e.bytes(t.body));
  return { bytes: Buffer.concat([method, header, body]), tagAt: 7 + 4 + 1 + Buffer.byteLength(consumerTag) };
}

class NullConnection {
  private readonly reader = new FrameReader({ onFrame: (type, channel, buf, start, end) => this.onFrame(type, channel, buf.subarray(start, end)) }, FRAME_MAX);
  private readonly decoder = new Decoder(Buffer.alloc(0));
  private headerBytes = 0;
  /** Per confirm channel: publishes seen, and the last tag confirmed. */
  private readonly confirms = new Map<number, { published: number; confirmed: number }>();
  private readonly prefetch = new Map<number, number>();
  private readonly streams: DeliveryStream[] = [];
  /** Channel whose publish content (header, then body) is being read, for the template. */
  private capturing = -1;
  private pumpQueued = false;

  constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('drain', () => this.pump());
    socket.on('error', () => socket.destroy());
  }

  private onData(chunk: Buffer): void {
    if (this.headerBytes < PROTOCOL_HEADER.length) {
      const take = Math.min(chunk.length, PROTOCOL_HEADER.length - this.headerBytes);
      this.headerBytes += take;
      chunk = chunk.subarray(take);
      if (this.headerBytes === PROTOCOL_HEADER.length) {
        this.send(0, {
          id: MethodId.ConnectionStart,
          versionMajor: 0,
          versionMinor: 9,
          serverProperties: { product: 'null broker', capabilities: { publisher_confirms: true, 'basic.nack': true, consumer_cancel_notify: true } },
          mechanisms: Buffer.from('PLAIN'),
          locales: Buffer.from('en_US'),
        });
      }
    }
    try {
      this.reader.push(chunk);
    } catch {
      this.socket.destroy();
      return;
    }
    for (const [channel, c] of this.confirms) {
      if (c.published === c.confirmed) continue;
      c.confirmed = c.published;
      this.send(channel, { id: MethodId.BasicAck, deliveryTag: c.published, multiple: true });
    }
    this.pump();
  }

  private onFrame(type: number, channel: number, payload: Buffer): void {
    if (type === FrameConstant.FRAME_METHOD) {
      const id = payload.readUInt32BE(0);
      if (id === MethodId.BasicPublish) {
        const c = this.confirms.get(channel);
        if (c !== undefined) c.published++;
        if (template === undefined || echoConsumers !== undefined) this.capturing = channel;
        return;
      }
      if (id === MethodId.BasicAck) return this.onAck(channel, payload);
      this.onMethod(channel, decodeMethod(this.decoder.reset(payload)));
      return;
    }
    if (channel !== this.capturing) return;
    if (type === FrameConstant.FRAME_HEADER) {
      pendingHeader = Buffer.from(payload);
      if (payload.readUInt32BE(8) === 0 && payload.readUInt32BE(4) === 0) this.captured(Buffer.alloc(0));
    } else if (type === FrameConstant.FRAME_BODY) {
      // Bodies up to one frame: enough for a sink.
      this.captured(Buffer.from(payload));
    }
  }

  private captured(body: Buffer): void {
    this.capturing = -1;
    if (echoConsumers !== undefined && pendingHeader !== undefined) return echo({ header: pendingHeader, body });
    if (template !== undefined || pendingHeader === undefined) return;
    template = { header: pendingHeader, body };
    for (const wake of waitingForTemplate) wake();
    waitingForTemplate.clear();
  }

  private onAck(channel: number, payload: Buffer): void {
    const tag = payload.readUInt32BE(4) * TWO_32 + payload.readUInt32BE(8);
    const multiple = (payload[12]! & 1) === 1;
    for (const s of this.streams) {
      if (s.channel === channel) s.acked = multiple ? Math.max(s.acked, tag) : s.acked + 1;
    }
  }

  private onMethod(channel: number, m: Method | undefined): void {
    if (m === undefined) return;
    switch (m.id) {
      case MethodId.ConnectionStartOk:
        return this.send(0, { id: MethodId.ConnectionTune, channelMax: 2047, frameMax: FRAME_MAX, heartbeat: 0 });
      case MethodId.ConnectionOpen:
        return this.send(0, { id: MethodId.ConnectionOpenOk });
      case MethodId.ConnectionClose:
        this.send(0, { id: MethodId.ConnectionCloseOk });
        this.socket.end();
        return;
      case MethodId.ChannelOpen:
        return this.send(channel, { id: MethodId.ChannelOpenOk });
      case MethodId.ChannelClose:
        return this.send(channel, { id: MethodId.ChannelCloseOk });
      case MethodId.ConfirmSelect:
        this.confirms.set(channel, { published: 0, confirmed: 0 });
        return this.send(channel, { id: MethodId.ConfirmSelectOk });
      case MethodId.BasicQos:
        this.prefetch.set(channel, m.prefetchCount);
        return this.send(channel, { id: MethodId.BasicQosOk });
      case MethodId.ExchangeDeclare:
        return this.send(channel, { id: MethodId.ExchangeDeclareOk });
      case MethodId.ExchangeDelete:
        return this.send(channel, { id: MethodId.ExchangeDeleteOk });
      case MethodId.QueueDeclare:
        return this.send(channel, { id: MethodId.QueueDeclareOk, queue: m.queue === '' ? 'amq.gen-null' : m.queue, messageCount: 0, consumerCount: 0 });
      case MethodId.QueueBind:
        return this.send(channel, { id: MethodId.QueueBindOk });
      case MethodId.QueuePurge:
        return this.send(channel, { id: MethodId.QueuePurgeOk, messageCount: 0 });
      case MethodId.QueueDelete:
        // A run (re)declaring its queues starts afresh: its consumers get copies of its own messages.
        template = undefined;
        return this.send(channel, { id: MethodId.QueueDeleteOk, messageCount: 0 });
      case MethodId.BasicConsume: {
        const tag = m.consumerTag === '' ? `null-${channel}` : m.consumerTag;
        this.send(channel, { id: MethodId.BasicConsumeOk, consumerTag: tag });
        if (echoConsumers !== undefined) {
          const { bytes, tagAt } = deliveryBytes(channel, tag, { header: Buffer.alloc(0), body: Buffer.alloc(0) });
          const consumer: EchoConsumer = { socket: this.socket, channel, deliver: bytes.subarray(0, FRAME_OVERHEAD + bytes.readUInt32BE(3)), tagAt, delivered: 0 };
          echoConsumers.push(consumer);
          this.socket.once('close', () => (echoConsumers = echoConsumers?.filter((c) => c !== consumer)));
          return;
        }
        const stream: DeliveryStream = { channel, noAck: m.noAck, prefetch: this.prefetch.get(channel) ?? 0, batch: undefined, size: 0, tagAt: 0, delivered: 0, acked: 0 };
        this.streams.push(stream);
        const ready = (): void => {
          const { bytes, tagAt } = deliveryBytes(channel, tag, template!);
          stream.batch = Buffer.concat(Array.from({ length: DELIVERY_BATCH }, () => bytes));
          stream.size = bytes.length;
          stream.tagAt = tagAt;
          this.pump();
        };
        if (template !== undefined) ready();
        else waitingForTemplate.add(ready);
        return;
      }
    }
  }

  /** Writes deliveries while the socket takes them and the consumers have credit; yields between turns. */
  private pump(): void {
    if (this.socket.destroyed) return;
    for (let writes = 0; writes < WRITES_PER_TURN && !this.socket.writableNeedDrain; writes++) {
      let wrote = false;
      for (const s of this.streams) {
        if (s.batch === undefined) continue;
        const credit = s.noAck || s.prefetch === 0 ? DELIVERY_BATCH : Math.min(DELIVERY_BATCH, s.prefetch - (s.delivered - s.acked));
        if (credit <= 0) continue;
        const out = Buffer.from(s.batch.subarray(0, credit * s.size));
        for (let i = 0; i < credit; i++) {
          const tag = ++s.delivered;
          out.writeUInt32BE(Math.floor(tag / TWO_32), i * s.size + s.tagAt);
          out.writeUInt32BE(tag % TWO_32, i * s.size + s.tagAt + 4);
        }
        this.socket.write(out);
        wrote = true;
      }
      if (!wrote) return;
    }
    if (this.socket.writableNeedDrain || this.pumpQueued) return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  private send(channel: number, m: Method): void {
    if (!this.socket.destroyed) this.socket.write(methodFrame(channel, m));
  }
}

/** Echo mode: one delivery of this message to each consumer still connected, in one write. */
function echo(message: NonNullable<typeof template>): void {
  for (const c of echoConsumers!) {
    const out = Buffer.allocUnsafe(c.deliver.length + 2 * FRAME_OVERHEAD + message.header.length + message.body.length);
    c.deliver.copy(out);
    const tag = ++c.delivered;
    out.writeUInt32BE(Math.floor(tag / TWO_32), c.tagAt);
    out.writeUInt32BE(tag % TWO_32, c.tagAt + 4);
    const bodyAt = putFrame(out, c.deliver.length, FrameConstant.FRAME_HEADER, c.channel, message.header);
    putFrame(out, bodyAt, FrameConstant.FRAME_BODY, c.channel, message.body);
    c.socket.write(out);
  }
}

/** Writes one frame at `at`; where the next one starts. */
function putFrame(out: Buffer, at: number, type: number, channel: number, payload: Buffer): number {
  out.writeUInt8(type, at);
  out.writeUInt16BE(channel, at + 1);
  out.writeUInt32BE(payload.length, at + 3);
  payload.copy(out, at + 7);
  out.writeUInt8(FrameConstant.FRAME_END, at + 7 + payload.length);
  return at + FRAME_OVERHEAD + payload.length;
}

export function startNullBroker(port: number, options: { host?: string; echo?: boolean } = {}): Promise<Server> {
  if (options.echo === true) echoConsumers = [];
  const server = createServer((socket) => new NullConnection(socket));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, options.host ?? '127.0.0.1', () => resolve(server));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '5699' }, echo: { type: 'boolean', default: false } }, strict: true });
  const server = await startNullBroker(Number(values.port), { echo: values.echo });
  const address = server.address();
  process.stdout.write(`null broker listening on ${typeof address === 'object' && address !== null ? address.port : values.port}\n`);
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
  process.once('SIGINT', () => server.close(() => process.exit(0)));
}
