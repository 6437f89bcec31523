import type * as amqp from 'amqplib';
import t from 'tap';
import { collect, connect, withBroker } from '../support/broker.js';
import { drain } from '../support/messages.js';
import { pickProperties, tempQueue } from '../support/routing.js';

/**
 * The 14 basic properties. amqplib's publish never sets cluster-id, so the
 * message goes out through its lower-level sendMessage.
 */
const PROPERTIES = {
  contentType: 'text/plain; charset=utf-8',
  contentEncoding: 'identity',
  deliveryMode: 2,
  priority: 9,
  correlationId: 'c-\u00e9\u4e2d',
  replyTo: 'reply.queue',
  expiration: '3600000',
  messageId: 'x'.repeat(255),
  timestamp: 4_102_444_800,
  type: '',
  userId: 'guest',
  appId: 'app',
  clusterId: 'cluster-1',
} as const;

const HEADERS = {
  string: 'plain',
  unicode: '\u00e9\u4e2d\u{1f600}',
  empty: '',
  byte: -5,
  short: -30000,
  int: 2_000_000_000,
  long: -(2 ** 50),
  double: -0.25,
  float: { '!': 'float', value: 0.5 },
  uint8: { '!': 'uint8', value: 200 },
  uint16: { '!': 'uint16', value: 60000 },
  uint32: { '!': 'uint32', value: 4_000_000_000 },
  timestamp: { '!': 'timestamp', value: 1_234_567_890 },
  decimal: { '!': 'decimal', value: { places: 3, digits: 314159 } },
  yes: true,
  no: false,
  void: null,
  bytes: Buffer.from([0, 0xff, 0x80]),
  array: ['a', 1, [true, null], { in: 'array' }],
  table: { nested: { deeper: 'yes' }, n: 1 },
  '\u00e9-key': 'non-ascii key',
};

/** What amqplib decodes the headers above to (typed values come back as plain numbers, except timestamp and decimal). */
const HEADERS_DECODED = {
  ...HEADERS,
  float: 0.5,
  uint8: 200,
  uint16: 60000,
  uint32: 4_000_000_000,
};

interface RawChannel {
  sendMessage(fields: object, properties: object, content: Buffer): boolean;
}

t.test('all 14 basic properties and headers of every field type arrive as sent, to a consumer and to basic.get', async (t) => {
  const broker = await withBroker(t);
  const connection = await connect(t, broker);
  const channel = await connection.createChannel();
  const q = await tempQueue(channel);
  const fields = { exchange: '', routingKey: q, mandatory: false, immediate: false, ticket: 0 };
  for (let i = 0; i < 2; i++) (channel as unknown as RawChannel).sendMessage(fields, { ...PROPERTIES, headers: HEADERS }, Buffer.from('props'));

  const got = await channel.get(q, { noAck: true });
  const [consumed] = await collect(channel, q, 1);
  for (const m of [got, consumed] as amqp.Message[]) {
    t.same(pickProperties(m, PROPERTIES), PROPERTIES);
    t.same(m.properties.headers, HEADERS_DECODED);
    t.equal(m.content.toString(), 'props');
  }
});

t.test('a message with no properties at all arrives with none', async (t) => {
  const broker = await withBroker(t);
  const connection = await connect(t, broker);
  const channel = await connection.createChannel();
  const q = await tempQueue(channel);
  (channel as unknown as RawChannel).sendMessage({ exchange: '', routingKey: q, mandatory: false, immediate: false, ticket: 0 }, {}, Buffer.from('bare'));
  const [m] = await drain(channel, q);
  t.equal(m?.content.toString(), 'bare');
  for (const value of Object.values(m?.properties ?? {})) t.equal(value, undefined);
});

/** Bytes 0..250 repeating, so a lost, repeated or shifted frame shows. */
function patterned(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = i % 251;
  return b;
}

for (const frameMax of [131072, 4096]) {
  t.test(`bodies around frame_max ${frameMax} are delivered byte for byte`, async (t) => {
    const broker = await withBroker(t);
    const connection = await connect(t, broker, { frameMax });
    const channel = await connection.createConfirmChannel();
    const q = await tempQueue(channel);
    // A body frame carries frame_max - 8 bytes (7 of header, 1 frame-end octet).
    const sizes = [0, 1, frameMax - 9, frameMax - 8, frameMax - 7, 2 * (frameMax - 8), 2 * (frameMax - 8) + 1, 5 * 1024 * 1024];
    for (const size of sizes) channel.sendToQueue(q, patterned(size), { headers: { size } });
    await channel.waitForConfirms();

    const got = await collect(channel, q, sizes.length, { noAck: true }, 20_000);
    t.same(got.map((m) => m.properties.headers?.['size']), sizes, 'all arrived, in order');
    for (const m of got) t.ok(m.content.equals(patterned(m.content.length)) && m.content.length === m.properties.headers?.['size'], `${m.content.length} bytes intact`);
  });
}

t.test('a 5 MiB body passes through an exchange chain to several queues intact', async (t) => {
  const broker = await withBroker(t);
  const connection = await connect(t, broker);
  const channel = await connection.createConfirmChannel();
  await channel.assertExchange('content-fanout', 'fanout');
  await channel.assertExchange('content-topic', 'topic');
  await channel.bindExchange('content-topic', 'content-fanout', '');
  const [a, b] = [await tempQueue(channel), await tempQueue(channel)];
  await channel.bindQueue(a, 'content-fanout', '');
  await channel.bindQueue(b, 'content-topic', '#');
  const body = patterned(5 * 1024 * 1024);
  channel.publish('content-fanout', 'big', body, { messageId: 'big' });
  await channel.waitForConfirms();
  for (const q of [a, b]) {
    const got = await drain(channel, q);
    t.equal(got.length, 1);
    t.ok(got[0]?.content.equals(body), 'identical');
    t.equal(got[0]?.properties.messageId, 'big');
  }
});
