import type * as amqp from 'amqplib';
import t from 'tap';
import { assertChannelRefusal, openChannel } from '../support/broker.js';
import { publishSettled, routingChannel, takeAll, tempQueue } from '../support/routing.js';

/** Binds one queue per label with those arguments, publishes each message (labelled by its body), and returns who got what. */
async function matrix(
  channel: amqp.ConfirmChannel,
  bindings: Record<string, Record<string, unknown>>,
  messages: Record<string, Record<string, unknown> | undefined>,
): Promise<Record<string, string[]>> {
  await channel.assertExchange('routing-headers', 'headers', { autoDelete: true });
  const queues: Record<string, string> = {};
  for (const [label, args] of Object.entries(bindings)) {
    queues[label] = await tempQueue(channel);
    await channel.bindQueue(queues[label], 'routing-headers', '', args);
  }
  for (const [body, headers] of Object.entries(messages)) {
    await publishSettled(channel, 'routing-headers', `key-${body}`, body, headers === undefined ? {} : { headers });
  }
  return takeAll(channel, queues);
}

t.test('x-match all (the default), any, all-with-x and any-with-x', async (t) => {
  const { channel } = await routingChannel(t);
  const got = await matrix(
    channel,
    {
      allByDefault: { a: 1, b: 'two' },
      all: { 'x-match': 'all', a: 1, b: 'two' },
      any: { 'x-match': 'any', a: 1, b: 'two' },
      allIgnoresX: { 'x-match': 'all', a: 1, 'x-tag': 'blue' },
      anyOfOnlyX: { 'x-match': 'any', 'x-tag': 'blue' },
      allWithX: { 'x-match': 'all-with-x', a: 1, 'x-tag': 'blue' },
      anyWithX: { 'x-match': 'any-with-x', 'x-tag': 'blue', c: true },
      allOfNothing: { 'x-match': 'all' },
      anyOfNothing: { 'x-match': 'any' },
      presenceOfA: { a: null },
    },
    {
      m1: { a: 1, b: 'two' },
      m2: { a: 1 },
      m3: { b: 'two', 'x-tag': 'blue' },
      m4: { a: 1, 'x-tag': 'blue' },
      m5: { a: 2, b: 'two', c: true },
      m6: undefined,
      m7: { 'x-tag': 'blue' },
      m8: { a: '1', b: 'TWO' },
    },
  );
  t.same(got, {
    allByDefault: ['m1'],
    all: ['m1'],
    any: ['m1', 'm2', 'm3', 'm4', 'm5'],
    allIgnoresX: ['m1', 'm2', 'm4'],
    anyOfOnlyX: [],
    allWithX: ['m4'],
    anyWithX: ['m3', 'm4', 'm5', 'm7'],
    allOfNothing: ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8'],
    anyOfNothing: [],
    presenceOfA: ['m1', 'm2', 'm4', 'm5', 'm8'],
  });
});

t.test('binding values of every type amqplib sends match the same value in a header', async (t) => {
  const { channel } = await routingChannel(t);
  const values: Record<string, unknown> = {
    string: 'text é',
    emptyString: '',
    byte: 7,
    short: 1000,
    int: 100000,
    long: 2 ** 40,
    double: 1.5,
    float: { '!': 'float', value: 2.5 },
    unsignedInt: { '!': 'uint32', value: 3_000_000_000 },
    booleanTrue: true,
    booleanFalse: false,
    binary: Buffer.from([0, 1, 255]),
    timestamp: { '!': 'timestamp', value: 1_700_000_000 },
    decimal: { '!': 'decimal', value: { places: 2, digits: 12345 } },
    table: { nested: 'yes', n: 1 },
    array: [1, 'a', true],
  };
  const bindings: Record<string, Record<string, unknown>> = {};
  const messages: Record<string, Record<string, unknown>> = {};
  for (const [label, v] of Object.entries(values)) {
    bindings[label] = { v };
    messages[label] = { v, other: 'ignored' };
  }
  const expected = Object.fromEntries(Object.keys(values).map((label) => [label, [label]]));
  t.same(await matrix(channel, bindings, messages), expected);
});

t.test('numbers match across integer types and doubles; strings match binaries; types otherwise matter', async (t) => {
  const { channel } = await routingChannel(t);
  const got = await matrix(
    channel,
    {
      long1: { v: { '!': 'int64', value: 1 } },
      string: { v: 'abc' },
      booleanTrue: { v: true },
      array: { v: ['x'] },
    },
    {
      byte1: { v: 1 },
      int1: { v: { '!': 'int32', value: 1 } },
      double1: { v: { '!': 'double', value: 1 } },
      binaryAbc: { v: Buffer.from('abc') },
      stringTrue: { v: 'true' },
      arrayOfBinary: { v: [Buffer.from('x')] },
      arrayOfString: { v: ['x'] },
    },
  );
  t.same(got, {
    long1: ['byte1', 'int1', 'double1'],
    string: ['binaryAbc'],
    booleanTrue: [],
    array: ['arrayOfString'],
  });
});

t.test('the routing key plays no part in a headers exchange, and unbinding needs the same arguments', async (t) => {
  const { channel } = await routingChannel(t);
  await channel.assertExchange('routing-headers-keys', 'headers');
  const q = await tempQueue(channel);
  await channel.bindQueue(q, 'routing-headers-keys', 'binding-key', { h: 1 });
  await publishSettled(channel, 'routing-headers-keys', 'some other key', 'matched', { headers: { h: 1 } });
  await channel.unbindQueue(q, 'routing-headers-keys', 'binding-key', { h: 2 });
  await publishSettled(channel, 'routing-headers-keys', '', 'still bound', { headers: { h: 1 } });
  await channel.unbindQueue(q, 'routing-headers-keys', 'binding-key', { h: 1 });
  const returned = await publishSettled(channel, 'routing-headers-keys', '', 'unbound', { headers: { h: 1 }, mandatory: true });
  t.equal(returned.length, 1, 'nothing matches after the unbind');
  t.same(await takeAll(channel, { q }), { q: ['matched', 'still bound'] });
});

t.test('an invalid x-match is refused with 406, naming the value or its type', async (t) => {
  const { connection, channel } = await routingChannel(t);
  const q = await tempQueue(channel);
  const cases: [unknown, string][] = [
    ['some', 'PRECONDITION_FAILED - Invalid x-match field value <<"some">>; expected all, any, all-with-x, or any-with-x'],
    ['ALL', 'Invalid x-match field value <<"ALL">>'],
    ['', 'Invalid x-match field value <<>>'],
    [1, 'PRECONDITION_FAILED - Invalid x-match field type byte (value 1); expected longstr'],
    [100000, 'Invalid x-match field type signedint (value 100000)'],
    [true, 'Invalid x-match field type bool (value true)'],
    [null, 'Invalid x-match field type void (value undefined)'],
    [Buffer.from('all'), 'Invalid x-match field type binary (value <<"all">>)'],
    [['all'], 'Invalid x-match field type array (value [{longstr,<<"all">>}])'],
  ];
  for (const [xMatch, text] of cases) {
    const ch = await openChannel(connection);
    await assertChannelRefusal(t, connection, ch.bindQueue(q, 'amq.headers', '', { 'x-match': xMatch }), 406, text);
  }
  // Nothing was bound by the refused attempts.
  const returned = await publishSettled(channel, 'amq.headers', '', 'unroutable', { mandatory: true });
  t.equal(returned.length, 1);
});
