/**
 * Micro-benchmark of the publish routing path (Publisher.route + enqueue
 * through the vhost Router) for a direct and a topic exchange with 100 queue
 * bindings each. Queues do not store the messages (their enqueue is stubbed),
 * so the numbers are the routing cost alone. Prints ns and bytes allocated
 * per publish; a number, not a pass/fail test.
 *
 * Bytes are counted over a shorter run that fits the young generation
 * (no scavenge in between), so heapUsed grows by exactly what was allocated:
 *
 *   npx tsc -p . && node --expose-gc --min-semi-space-size=256 --max-semi-space-size=256 dist/bench/publish-routing.bench.js
 */
import type { Logger } from 'pino';
import { AccessControl } from '../src/auth/access-control.js';
import { ResourceAccess } from '../src/auth/resource-access.js';
import type { ChannelHost } from '../src/channel/channel-host.js';
import { Publisher } from '../src/channel/publisher.js';
import { FrameWriter } from '../src/framing/frame-writer.js';
import { Encoder } from '../src/protocol/encoder.js';
import { type BasicProperties, encodeBasicProperties } from '../src/protocol/generated/basic-properties.js';
import { Message } from '../src/queue/message.js';
import { VirtualHost } from '../src/vhost/virtual-host.js';

const BINDINGS = 100;
const OPS = 1_000_000;
/** Short enough that its garbage fits a 256 MB semi-space. */
const ALLOCATION_OPS = 100_000;
const ROUNDS = 5;
const owner = {};

const vhost = new VirtualHost('/');
const access = new AccessControl(new Set());
access.apply({ op: 'permission.set', permission: { user: 'guest', vhost: '/', configure: '.*', write: '.*', read: '.*' } });
const host: ChannelHost = {
  writer: new FrameWriter({ write: () => true } as never),
  vhost,
  journal: undefined,
  capabilities: { consumerCancelNotify: true, connectionBlocked: true, authenticationFailureClose: true, publisherConfirms: true },
  log: {} as Logger,
  maxMessageSize: 128 * 1024 * 1024,
  consumerTimeout: undefined,
  userName: 'guest',
  resources: new ResourceAccess(access, 'guest', '/'),
  owner,
  congested: false,
  consumerStalled: () => {},
  confirmsPending: () => {},
  publishing: () => {},
  commandFailed: () => {},
};
const publisher = new Publisher(host, 1);

const xOptions = (type: string) => ({ type, durable: false, autoDelete: false, internal: false, arguments: {} });
const direct = vhost.declareExchange('bench.direct', xOptions('direct'), false);
const topic = vhost.declareExchange('bench.topic', xOptions('topic'), false);
const topicPatterns = [(i: number) => `a.k${i}.#`, (i: number) => `*.k${i}.x`, (i: number) => `#.k${i}`, (i: number) => `a.*.k${i}`];
for (let i = 0; i < BINDINGS; i++) {
  const q = vhost.declareQueue({ name: `q${i}`, passive: false, durable: false, exclusiveOwner: undefined, autoDelete: false, arguments: {} }, owner);
  // The queue's own work is not what is measured here.
  q.enqueue = () => {};
  vhost.bindQueue('bench.direct', q.name, owner, `k${i}`, {});
  vhost.bindQueue('bench.topic', q.name, owner, topicPatterns[i % topicPatterns.length]!(i), {});
}

function rawProperties(p: BasicProperties): Buffer {
  const e = new Encoder();
  encodeBasicProperties(e, p);
  return Buffer.from(e.take());
}

/** Property sets as clients send them: amqplib always sends a (usually empty) headers table. */
const PROPERTIES: readonly (readonly [string, Buffer])[] = [
  ['no properties', rawProperties({})],
  ['amqplib default (empty headers)', rawProperties({ headers: {} })],
  ['content-type + 3 headers', rawProperties({ contentType: 'application/json', deliveryMode: 2, headers: { 'x-trace': 'abc123', n: 1, tenant: 'acme' } })],
];
const body = Buffer.from('hello');
const directKeys = Array.from({ length: 16 }, (_, i) => `k${i * 6}`);
const topicKeys = Array.from({ length: 16 }, (_, i) => [`a.k${i * 4}.x`, `z.k${i * 4 + 1}.x`, `b.c.k${i * 4 + 2}`, `a.b.k${i * 4 + 3}`][i % 4]!);

/** Runs `op` n times; ns per op, and bytes per op (meaningful for a run whose garbage fits the young generation). */
function measure(n: number, op: (i: number) => void): { ns: number; bytes: number } {
  globalThis.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) op(i);
  const ns = Number(process.hrtime.bigint() - t0) / n;
  return { ns, bytes: (process.memoryUsage().heapUsed - heap0) / n };
}

function publishOp(exchange: typeof direct, keys: readonly string[], raw: Buffer): (i: number) => void {
  for (const key of keys) {
    const routed = publisher.route(exchange, Message.fromParts(exchange.name, key, raw, body)).length;
    if (routed !== 1) throw new Error(`'${key}' routed to ${routed} queues`);
  }
  return (i) => publisher.publish(exchange, Message.fromParts(exchange.name, keys[i & 15]!, raw, body), false, undefined);
}

/** The same loop without routing: creating the Message, which the channel does anyway. */
function messageOp(raw: Buffer): (i: number) => void {
  return (i) => {
    if (Message.fromParts('x', directKeys[i & 15]!, raw, body).size !== body.length) throw new Error('unexpected');
  };
}

function best(op: (i: number) => void): { ns: number; bytes: number } {
  measure(OPS, op); // warm-up
  let ns = Infinity;
  for (let r = 0; r < ROUNDS; r++) ns = Math.min(ns, measure(OPS, op).ns);
  return { ns, bytes: measure(ALLOCATION_OPS, op).bytes };
}

if (globalThis.gc === undefined) console.log('(run with --expose-gc and a 256 MB semi-space for allocation numbers)');
/** An optional argument picks the property sets whose label contains it. */
const only = process.argv[2] ?? '';
for (const [label, raw] of PROPERTIES) {
  if (!label.includes(only)) continue;
  const b = best(messageOp(raw));
  console.log(`${label}: new Message alone ${b.ns.toFixed(0)} ns, ${b.bytes.toFixed(0)} B`);
  for (const [exchange, keys] of [[direct, directKeys], [topic, topicKeys]] as const) {
    const r = best(publishOp(exchange, keys, raw));
    console.log(`  ${exchange.type.padEnd(6)} ${r.ns.toFixed(0).padStart(4)} ns/publish, ${r.bytes.toFixed(0).padStart(4)} B/publish (Message included)`);
  }
}
