import t from 'tap';
import { mayHaveSenderSelectedKeys, senderSelectedKeys, withoutBcc } from '../../src/channel/sender-selected-keys.js';
import { AmqpError } from '../../src/protocol/amqp-error.js';
import { Encoder } from '../../src/protocol/encoder.js';
import { type FieldTable, TypedValue } from '../../src/protocol/field-value.js';
import { type BasicProperties, encodeBasicProperties } from '../../src/protocol/generated/basic-properties.js';
import { Message } from '../../src/queue/message.js';

function message(properties: BasicProperties): Message {
  const e = new Encoder();
  encodeBasicProperties(e, properties);
  return Message.fromParts('x', 'rk', Buffer.from(e.take()), Buffer.from('body'));
}

/** One header of every field type, so the raw walk has to step over each kind of value. */
const EVERY_TYPE: FieldTable = {
  t: true,
  b: new TypedValue('b', -1),
  B: new TypedValue('B', 255),
  s: new TypedValue('s', -2),
  u: new TypedValue('u', 65535),
  I: 7,
  i: new TypedValue('i', 4_000_000_000),
  l: 2n ** 60n,
  f: new TypedValue('f', 1.5),
  d: 0.25,
  D: new TypedValue('D', { places: 2, digits: 5 }),
  S: 'string with \u0002CC and \u0003BCC inside',
  x: Buffer.from([2, 0x43, 0x43]),
  A: ['a', 1, ['nested']],
  T: new Date(1_700_000_000_000),
  F: { CC: ['not at the top level'] },
  V: null,
};

t.test('the raw walk finds CC and BCC wherever they are among the headers, and only them', async (t) => {
  const around: BasicProperties = { contentType: 'text/plain', contentEncoding: 'gzip', deliveryMode: 2, appId: 'a' };
  t.notOk(mayHaveSenderSelectedKeys(message({})), 'no properties');
  t.notOk(mayHaveSenderSelectedKeys(message({ headers: {} })), 'empty table');
  t.notOk(mayHaveSenderSelectedKeys(message({ ...around, headers: EVERY_TYPE })), 'CC-like bytes inside values are not keys');
  t.notOk(mayHaveSenderSelectedKeys(message({ headers: { C: 1, CCC: 2, ABCC: 3, cc: ['x'] } })), 'similar keys');
  for (const name of ['CC', 'BCC']) {
    t.ok(mayHaveSenderSelectedKeys(message({ headers: { [name]: ['k'] } })), `${name} alone`);
    t.ok(mayHaveSenderSelectedKeys(message({ ...around, headers: { ...EVERY_TYPE, [name]: ['k'] } })), `${name} after every type`);
  }
});

t.test('malformed properties count as maybe, leaving the error to the decoder', async (t) => {
  // Headers flag set, table length running past the end.
  t.ok(mayHaveSenderSelectedKeys(Message.fromParts('x', 'rk', Buffer.from([0x20, 0, 0, 0, 0, 9]), Buffer.alloc(0))));
  // Unknown type tag 'Z'.
  t.ok(mayHaveSenderSelectedKeys(Message.fromParts('x', 'rk', Buffer.from([0x20, 0, 0, 0, 0, 3, 1, 0x61, 0x5a]), Buffer.alloc(0))));
});

t.test('the routing keys are the message key, then the CC strings, then the BCC strings', async (t) => {
  t.same(senderSelectedKeys('rk', undefined), ['rk']);
  t.same(senderSelectedKeys('rk', { CC: ['a', 1, Buffer.from('b'), 'c'], BCC: ['d'], other: ['e'] }), ['rk', 'a', 'c', 'd']);
  t.throws(() => senderSelectedKeys('rk', { CC: 'a' }), new AmqpError(406, 'invalid message: {unacceptable_type_in_header,"CC",longstr}'));
  t.throws(() => senderSelectedKeys('rk', { BCC: new TypedValue('s', 1) }), /"BCC",short/);
});

t.test('withoutBcc re-encodes only a message that has BCC, keeping everything else', async (t) => {
  const plain = message({ contentType: 'a', headers: { CC: ['x'] } });
  t.equal(withoutBcc(plain), plain, 'same message when there is no BCC');
  const original = message({ contentType: 'a', priority: 1, headers: { h: 1, BCC: ['y'], CC: ['x'] } });
  const stripped = withoutBcc(original);
  t.not(stripped, original);
  t.same(stripped.properties, { contentType: 'a', priority: 1, headers: { h: 1, CC: ['x'] } });
  t.same(stripped.body, original.body);
  t.equal(stripped.routingKey, 'rk');
});
