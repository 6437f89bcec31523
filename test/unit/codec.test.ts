import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { specPath } from '../../spec/generate.js';
import { readSpec, type SpecField } from '../../spec/spec-model.js';
import { AmqpError } from '../../src/protocol/amqp-error.js';
import { Decoder, MAX_TABLE_DEPTH } from '../../src/protocol/decoder.js';
import { Encoder } from '../../src/protocol/encoder.js';
import { type FieldTable, type FieldValue, type TypeTag, TypedValue } from '../../src/protocol/field-value.js';
import { decodeMethod, encodeMethod, MethodId, methodName, type Method } from '../../src/protocol/generated/amqp-methods.js';
import { type BasicProperties, decodeBasicProperties, encodeBasicProperties, PropertyFlag } from '../../src/protocol/generated/basic-properties.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const spec = readSpec(readFileSync(specPath(repoRoot), 'utf8'));

function encoded(write: (e: Encoder) => void): Buffer {
  const e = new Encoder();
  write(e);
  return Buffer.from(e.take());
}

const tableBytes = (table: FieldTable): Buffer => encoded((e) => e.table(table));

/** The reply code of the AmqpError `fn` throws; undefined when it throws nothing. */
function replyCodeOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof AmqpError) return err.replyCode;
    throw err;
  }
  return undefined;
}

// ---- methods ----------------------------------------------------------------------------

const camel = (kebab: string): string => kebab.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * A value for a field of this wire type. Variants differ in every field (bits included, so a
 * packing mistake shows) and reach each type's limits: 0 is empty and zero, 1 the maximum.
 */
function sample(field: SpecField, position: number, variant: number): unknown {
  switch (field.type) {
    case 'bit': return variant === 2 ? position % 2 === 0 : variant === 1;
    case 'octet': return [0, 0xff, 7][variant];
    case 'short': return [0, 0xffff, 0x1234][variant];
    case 'long': return [0, 0xffff_ffff, 0x1234_5678][variant];
    case 'longlong': return [0, Number.MAX_SAFE_INTEGER, 0x1_0000_0001][variant];
    case 'timestamp': return [0, 2 ** 40, 1_700_000_000][variant];
    case 'shortstr': return ['', 'é'.repeat(127) + 'x', `${field.name}-ü`][variant];
    case 'longstr': return [Buffer.alloc(0), Buffer.alloc(70_000, 0xab), Buffer.from([0, 1, 2, 0xff])][variant];
    case 'table': return [{}, { nested: { deep: [1, 'two', null] }, flag: true }, { k: 'v', n: -1 }][variant];
    default: throw new Error(`no sample for field type ${field.type}`);
  }
}

const specMethods = spec.classes.flatMap((c) => c.methods);

t.test('MethodId lists exactly the methods of the specification', async (t) => {
  const fromSpec = specMethods.map((m) => (m.classIndex << 16) | m.index).sort((a, b) => a - b);
  const generated = Object.values(MethodId).sort((a, b) => a - b);
  t.same(generated, fromSpec);
});

t.test('every method round-trips through encodeMethod and decodeMethod', async (t) => {
  for (const m of specMethods) {
    const id = (m.classIndex << 16) | m.index;
    for (const variant of [0, 1, 2]) {
      const value: Record<string, unknown> = { id };
      m.fields.forEach((f, i) => {
        if (!f.reserved) value[camel(f.name)] = sample(f, i, variant);
      });
      const bytes = encoded((e) => encodeMethod(e, value as unknown as Method));
      t.equal(bytes.readUInt32BE(0), id, `${methodName(id)} starts with its ids`);
      const d = new Decoder(bytes);
      t.same(decodeMethod(d), value, `${methodName(id)}, variant ${variant}`);
      t.equal(d.remaining, 0, `${methodName(id)}: every byte read`);
    }
  }
});

t.test('decodeMethod returns undefined for a method the specification does not define', async (t) => {
  t.equal(decodeMethod(new Decoder(Buffer.from([0, 99, 0, 10]))), undefined);
  t.equal(decodeMethod(new Decoder(Buffer.from([0, 60, 0, 99]))), undefined);
});

t.test('a method cut short is a 501 FRAME_ERROR', async (t) => {
  const bytes = encoded((e) => encodeMethod(e, { id: MethodId.BasicAck, deliveryTag: 5, multiple: true }));
  for (let cut = 0; cut < bytes.length; cut++) {
    t.equal(replyCodeOf(() => decodeMethod(new Decoder(bytes.subarray(0, cut)))), 501, `cut at ${cut}`);
  }
});

// ---- field tables -----------------------------------------------------------------------

/** One value of every type tag RabbitMQ uses, with the tag the encoder must write for it. */
const EVERY_TYPE: [TypeTag, FieldValue][] = [
  ['t', true],
  ['b', new TypedValue('b', -128)],
  ['B', new TypedValue('B', 255)],
  ['s', new TypedValue('s', -32768)],
  ['u', new TypedValue('u', 65535)],
  ['I', -2_147_483_648],
  ['i', new TypedValue('i', 4_294_967_295)],
  ['l', 2 ** 40],
  ['f', new TypedValue('f', 1.5)],
  ['d', 3.25],
  ['D', new TypedValue('D', { places: 2, digits: -12345 })],
  ['S', 'text with ümlauts'],
  ['A', [1, 'two', [true, null]]],
  ['T', new Date(1_700_000_000_000)],
  ['F', { inner: { deeper: 'yes' } }],
  ['V', null],
  ['x', Buffer.from([0, 1, 0xfe, 0xff])],
];

t.test('each field value is written with its type tag and read back equal', async (t) => {
  for (const [tag, value] of EVERY_TYPE) {
    const bytes = tableBytes({ k: value });
    // table length (4), key length (1), key "k" (1), then the tag
    t.equal(String.fromCharCode(bytes[6]!), tag, `tag ${tag}`);
    t.same(new Decoder(bytes).table(), { k: value }, `value of type ${tag}`);
  }
});

t.test('a table of every type, nested, survives decode and re-encode byte for byte', async (t) => {
  const flat: FieldTable = Object.fromEntries(EVERY_TYPE.map(([tag, v]) => [`key-${tag}`, v]));
  const table: FieldTable = { ...flat, nested: { ...flat, list: [flat, [flat]] } };
  const bytes = tableBytes(table);
  const decoded = new Decoder(bytes).table();
  t.same(decoded, table);
  t.same(tableBytes(decoded), bytes, 'TypedValue keeps every tag the plain value would lose');
});

t.test('values the encoder would otherwise retype keep their tag through a round trip', async (t) => {
  const pinned: FieldTable = {
    smallLong: new TypedValue('l', 5), // would re-encode as 'I'
    integralDouble: new TypedValue('d', 2), // would re-encode as 'I'
    hugeLong: 2n ** 62n, // beyond 2^53: stays a bigint
    negativeLong: -(2 ** 40),
  };
  const bytes = tableBytes(pinned);
  const decoded = new Decoder(bytes).table();
  t.same(decoded, pinned);
  t.same(tableBytes(decoded), bytes);
});

t.test('"__proto__" is kept as an ordinary key', async (t) => {
  const e = new Encoder();
  e.u32(12); // key (1 + 9 bytes), tag, value
  e.shortstr('__proto__');
  e.u8(0x74);
  e.u8(1);
  const decoded = new Decoder(Buffer.from(e.take())).table();
  t.equal(Object.getPrototypeOf(decoded), Object.prototype);
  t.same(Object.keys(decoded), ['__proto__']);
});

t.test(`tables nest up to ${MAX_TABLE_DEPTH} levels; one more is a 501`, async (t) => {
  const nest = (depth: number): FieldTable => {
    let table: FieldTable = {};
    for (let i = 1; i < depth; i++) table = { n: table };
    return table;
  };
  t.same(new Decoder(tableBytes(nest(MAX_TABLE_DEPTH + 1))).table(), nest(MAX_TABLE_DEPTH + 1), 'MAX_TABLE_DEPTH nested values');
  t.equal(replyCodeOf(() => new Decoder(tableBytes(nest(MAX_TABLE_DEPTH + 2))).table()), 501);
});

t.test('malformed tables are 501 FRAME_ERROR', async (t) => {
  const good = tableBytes({ a: 1 });
  const unknownTag = Buffer.from(good);
  unknownTag[6] = 'Z'.charCodeAt(0);
  t.equal(replyCodeOf(() => new Decoder(unknownTag).table()), 501, 'unknown type tag');
  const longer = Buffer.from(good);
  longer.writeUInt32BE(100, 0);
  t.equal(replyCodeOf(() => new Decoder(longer).table()), 501, 'length past the end');
  t.equal(replyCodeOf(() => new Decoder(good.subarray(0, good.length - 1)).table()), 501, 'value cut short');
});

// ---- basic properties -----------------------------------------------------------------

const ALL_PROPERTIES: Required<BasicProperties> = {
  contentType: 'application/json',
  contentEncoding: 'gzip',
  headers: { 'x-count': 3, 'x-tags': ['a', 'b'], 'x-typed': new TypedValue('s', -2) },
  deliveryMode: 2,
  priority: 9,
  correlationId: 'corr-1',
  replyTo: 'amq.rabbitmq.reply-to',
  expiration: '60000',
  messageId: 'msg-1',
  timestamp: 1_700_000_000,
  type: 'order.created',
  userId: 'guest',
  appId: 'shop',
  reserved: 'cluster-1',
};

t.test('all 14 basic properties round-trip, with every presence flag set', async (t) => {
  t.equal(Object.keys(ALL_PROPERTIES).length, 14);
  t.equal(Object.keys(PropertyFlag).length, 14);
  const bytes = encoded((e) => encodeBasicProperties(e, ALL_PROPERTIES));
  t.equal(bytes.readUInt16BE(0), 0xfffc, 'flags for all 14 properties, no continuation bit');
  const d = new Decoder(bytes);
  t.same(decodeBasicProperties(d), ALL_PROPERTIES);
  t.equal(d.remaining, 0);
});

t.test('each basic property on its own round-trips and sets only its flag', async (t) => {
  const flags = Object.values(PropertyFlag);
  Object.entries(ALL_PROPERTIES).forEach(([name, value], i) => {
    const one = { [name]: value } as BasicProperties;
    const bytes = encoded((e) => encodeBasicProperties(e, one));
    t.equal(bytes.readUInt16BE(0), flags[i], `${name} flag`);
    t.same(decodeBasicProperties(new Decoder(bytes)), one, name);
  });
  const none = encoded((e) => encodeBasicProperties(e, {}));
  t.same(none, Buffer.from([0, 0]), 'no properties: a zero flags word');
  t.same(decodeBasicProperties(new Decoder(none)), {});
});

// ---- reply text -------------------------------------------------------------------------

t.test('a reply text over 255 bytes is cut at a character boundary, so it still fits a shortstr', async (t) => {
  const err = new AmqpError(404, `no queue '${'é'.repeat(200)}'`);
  t.ok(Buffer.byteLength(err.replyText) <= 255);
  t.notMatch(err.replyText, /\uFFFD/, 'no broken character at the end');
  t.doesNotThrow(() => encoded((e) => e.shortstr(err.replyText)));
});
