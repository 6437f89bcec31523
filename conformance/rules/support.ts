import { randomUUID } from 'node:crypto';
import * as amqp from 'amqplib';
import type { Test } from 'tap';
import { withBroker } from '../../test/support/broker.js';
import { bodyFrame, FrameType, headerFrame, methodFrame, plainResponse, RawClient, type HandshakeOptions } from '../../test/support/raw-client.js';
import { Decoder } from '../../src/protocol/decoder.js';
import type { BasicProperties } from '../../src/protocol/generated/basic-properties.js';
import { MethodId } from '../../src/protocol/generated/amqp-methods.js';

/**
 * Where the rule tests run: the broker at AMQP_URL when it is set (run.sh passes
 * it; it may be RabbitMQ in the differential mode), else an embedded broker
 * started for the test. Every name a test creates is unique, so tests can share
 * one broker, and durable leftovers are deleted when the test ends.
 */
export interface Target {
  readonly url: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly vhost: string;
}

export async function target(t: Test): Promise<Target> {
  const fromEnv = process.env['AMQP_URL'];
  const url = fromEnv !== undefined && fromEnv !== '' ? fromEnv : (await withBroker(t)).url;
  const u = new URL(url);
  if (u.hostname !== '127.0.0.1' && u.hostname !== 'localhost') throw new Error(`rule tests run against 127.0.0.1 only, not ${u.hostname}`);
  const vhost = u.pathname.length > 1 ? decodeURIComponent(u.pathname.slice(1)) : '/';
  return { url, port: Number(u.port || 5672), user: decodeURIComponent(u.username || 'guest'), password: decodeURIComponent(u.password || 'guest'), vhost };
}

/** An amqplib connection to the target, closed when the test ends. */
export async function open(t: Test, to: Target): Promise<amqp.ChannelModel> {
  const connection = await amqp.connect(to.url);
  connection.on('error', () => {});
  t.teardown(() => connection.close().catch(() => {}));
  return connection;
}

/** A connection and a channel the broker may close on purpose (its errors surface in the failed operations). */
export async function session(t: Test, to: Target): Promise<{ connection: amqp.ChannelModel; channel: amqp.Channel }> {
  const connection = await open(t, to);
  const channel = await connection.createChannel();
  channel.on('error', () => {});
  return { connection, channel };
}

/** A name no other test uses, so that tests may share one broker. */
export function unique(what: string): string {
  return `rules-${what}-${randomUUID().slice(0, 8)}`;
}

/** Deletes these queues and exchanges on a fresh connection when the test ends (for names that outlive a connection). */
export function removeAfter(t: Test, to: Target, entities: { queues?: string[]; exchanges?: string[] }): void {
  t.teardown(async () => {
    const connection = await amqp.connect(to.url);
    connection.on('error', () => {});
    const ch = await connection.createChannel();
    for (const q of entities.queues ?? []) await ch.deleteQueue(q);
    for (const e of entities.exchanges ?? []) await ch.deleteExchange(e);
    await connection.close();
  });
}

/** The error an operation the broker refuses rejects with (undefined if it succeeded). */
export async function refusal(op: Promise<unknown>): Promise<(Error & { code?: number }) | undefined> {
  return op.then(
    () => undefined,
    (e: Error & { code?: number }) => e,
  );
}

/** Runs `op` on a channel of its own (a refusal closes it) and returns the reply code it was refused with. */
export async function refusedWith(connection: amqp.ChannelModel, op: (ch: amqp.Channel) => Promise<unknown>): Promise<number | undefined> {
  const ch = await connection.createChannel();
  ch.on('error', () => {});
  return (await refusal(op(ch)))?.code;
}

/** Sends these bodies straight to `queue` and waits until it holds them. */
export async function fill(channel: amqp.Channel, queue: string, bodies: readonly (string | Buffer)[], options: (i: number) => amqp.Options.Publish = () => ({})): Promise<void> {
  bodies.forEach((b, i) => channel.sendToQueue(queue, Buffer.isBuffer(b) ? b : Buffer.from(b), options(i)));
  const n = bodies.length;
  const deadline = Date.now() + 5000;
  while ((await channel.checkQueue(queue)).messageCount < n) {
    if (Date.now() > deadline) throw new Error(`${n} messages not queued within 5000 ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A raw client that has finished the handshake with the target's credentials and vhost. */
export function rawOpen(t: Test, to: Target, options: HandshakeOptions = {}): Promise<RawClient> {
  return RawClient.open(t, to.port, { response: plainResponse(to.user, to.password), vhost: to.vhost, ...options });
}

export interface RawPublish {
  readonly exchange?: string;
  readonly routingKey: string;
  readonly mandatory?: boolean;
  readonly immediate?: boolean;
  readonly properties?: BasicProperties;
  /** Largest body frame payload; the default suits any negotiated frame_max. */
  readonly frameMax?: number;
}

/** basic.publish with its content, split into body frames that fit frame_max. */
export function rawPublish(raw: RawClient, channel: number, body: Buffer, p: RawPublish): void {
  const frames = [
    methodFrame(channel, { id: MethodId.BasicPublish, exchange: p.exchange ?? '', routingKey: p.routingKey, mandatory: p.mandatory ?? false, immediate: p.immediate ?? false }),
    headerFrame(channel, body.length, p.properties ?? {}),
  ];
  const chunk = (p.frameMax ?? 4096) - 8;
  for (let at = 0; at < body.length; at += chunk) frames.push(bodyFrame(channel, body.subarray(at, at + chunk)));
  raw.write(Buffer.concat(frames));
}

/** Reads the content header and body frames that follow a deliver, get-ok or return; resolves with the body and each body frame's size. */
export async function rawContent(raw: RawClient, timeout = 3000): Promise<{ body: Buffer; frameSizes: number[] }> {
  const header = await raw.nextFrame(timeout);
  if (header.type !== FrameType.header) throw new Error(`expected a content header, got frame type ${header.type}`);
  const size = new Decoder(header.payload.subarray(4, 12)).u64();
  const parts: Buffer[] = [];
  const frameSizes: number[] = [];
  let got = 0;
  while (got < size) {
    const frame = await raw.nextFrame(timeout);
    if (frame.type === FrameType.heartbeat) continue;
    if (frame.type !== FrameType.body) throw new Error(`expected a body frame, got frame type ${frame.type}`);
    parts.push(frame.payload);
    frameSizes.push(frame.payload.length + 8);
    got += frame.payload.length;
  }
  return { body: Buffer.concat(parts), frameSizes };
}

/**
 * Publishes one message to `exchange` and counts the copies that reach `queue`.
 * A marker sent after it straight to the queue bounds the wait: messages from one
 * channel reach a queue in order, so once the marker is there every copy is too.
 * The queue must hold nothing else.
 */
export async function routedCopies(channel: amqp.Channel, exchange: string, routingKey: string, queue: string): Promise<number> {
  const probe = `probe-${randomUUID()}`;
  const marker = `marker-${randomUUID()}`;
  channel.publish(exchange, routingKey, Buffer.from(probe));
  channel.sendToQueue(queue, Buffer.from(marker));
  let copies = 0;
  const deadline = Date.now() + 3000;
  for (;;) {
    const m = await channel.get(queue, { noAck: true });
    if (m !== false) {
      const body = m.content.toString();
      if (body === marker) return copies;
      if (body === probe) copies++;
    } else if (Date.now() > deadline) {
      throw new Error(`the marker did not reach ${queue} within 3000 ms`);
    } else {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
