import t from 'tap';
import { HeadersMatcher, validateHeadersBindingArgs } from '../../src/exchange/headers-match.js';
import { HeadersRouter } from '../../src/exchange/headers-router.js';
import { type FieldTable, type FieldValue, TypedValue } from '../../src/protocol/field-value.js';

function matches(args: FieldTable, headers: FieldTable | undefined): boolean {
  return new HeadersMatcher(args).matches(headers);
}

t.test('x-match all (the default)', async (t) => {
  for (const args of [{ a: 1, b: 'x' }, { 'x-match': 'all', a: 1, b: 'x' }] as FieldTable[]) {
    t.ok(matches(args, { a: 1, b: 'x' }));
    t.ok(matches(args, { b: 'x', a: 1, c: 'extra header' }), 'extra headers are fine');
    t.notOk(matches(args, { a: 1 }), 'missing key');
    t.notOk(matches(args, { a: 2, b: 'x' }), 'wrong value');
    t.notOk(matches(args, {}));
    t.notOk(matches(args, undefined), 'no headers at all');
  }
});

t.test('x-match any', async (t) => {
  const args = { 'x-match': 'any', a: 1, b: 'x' };
  t.ok(matches(args, { a: 1 }));
  t.ok(matches(args, { a: 0, b: 'x' }));
  t.ok(matches(args, { a: 1, b: 'x' }));
  t.notOk(matches(args, { a: 2, b: 'y' }));
  t.notOk(matches(args, { c: 1 }));
  t.notOk(matches(args, undefined));
});

t.test('x- arguments: ignored by all/any, matched by the -with-x modes', async (t) => {
  t.ok(matches({ 'x-match': 'all', 'x-k': 1, a: 1 }, { a: 1 }));
  t.ok(matches({ 'x-match': 'all', 'x-k': 1, a: 1 }, { a: 1, 'x-k': 2 }));
  t.notOk(matches({ 'x-match': 'any', 'x-k': 1 }, { 'x-k': 1 }), 'any with only x- keys has nothing to match');
  t.ok(matches({ 'x-match': 'all-with-x', 'x-k': 1, a: 1 }, { a: 1, 'x-k': 1 }));
  t.notOk(matches({ 'x-match': 'all-with-x', 'x-k': 1, a: 1 }, { a: 1 }));
  t.notOk(matches({ 'x-match': 'all-with-x', 'x-k': 1, a: 1 }, { a: 1, 'x-k': 2 }));
  t.ok(matches({ 'x-match': 'any-with-x', 'x-k': 1, a: 1 }, { 'x-k': 1 }));
  t.notOk(matches({ 'x-match': 'any-with-x', 'x-k': 1, a: 1 }, { 'x-k': 2, a: 2 }));
  // x-match itself never takes part, even in the -with-x modes.
  t.ok(matches({ 'x-match': 'all-with-x' }, { 'x-match': 'any' }));
  t.notOk(matches({ 'x-match': 'any-with-x' }, { 'x-match': 'any-with-x' }));
  // Only keys that start with "x-" are x- keys.
  t.ok(matches({ 'x-match': 'any', xk: 1 }, { xk: 1 }), '"xk" is not an x- key');
});

t.test('a binding with no matchable keys: all matches everything, any nothing', async (t) => {
  for (const headers of [undefined, {}, { a: 1 }]) {
    t.ok(matches({}, headers));
    t.ok(matches({ 'x-match': 'all', 'x-other': 1 }, headers));
    t.ok(matches({ 'x-match': 'all-with-x' }, headers));
    t.notOk(matches({ 'x-match': 'any' }, headers));
    t.notOk(matches({ 'x-match': 'any-with-x' }, headers));
  }
});

t.test('a void (null) binding value means "header present, any value"', async (t) => {
  t.ok(matches({ a: null }, { a: 'anything' }));
  t.ok(matches({ a: null }, { a: null }));
  t.ok(matches({ a: null }, { a: { nested: true } }));
  t.notOk(matches({ a: null }, { b: 1 }));
  t.ok(matches({ 'x-match': 'any', a: null, b: 1 }, { a: 0 }));
  t.notOk(matches({ a: 1 }, { a: null }), 'a void header does not equal a value');
});

t.test('values compare as Erlang == (type tags ignored at the top level)', async (t) => {
  const one: [FieldValue, string][] = [
    [1, 'int32'],
    [new TypedValue('l', 1), 'int64'],
    [new TypedValue('b', 1), 'int8'],
    [new TypedValue('u', 1), 'uint16'],
    [new TypedValue('d', 1), 'double 1.0'],
    [new TypedValue('f', 1), 'float 1.0'],
    [1n, 'bigint'],
    [new Date(1000), 'timestamp 1 s'],
  ];
  for (const [a, an] of one) for (const [b, bn] of one) t.ok(matches({ k: a }, { k: b }), `${an} == ${bn}`);
  for (const other of ['1', true, Buffer.from([1]), null, new TypedValue('D', { places: 0, digits: 1 }), [1], { v: 1 }]) {
    t.notOk(matches({ k: 1 }, { k: other }), `1 != ${String(other)}`);
  }
  t.ok(matches({ k: 2.5 }, { k: new TypedValue('f', 2.5) }));
  t.notOk(matches({ k: 2.5 }, { k: 2 }));
  t.ok(matches({ k: 2n ** 63n - 1n }, { k: 2n ** 63n - 1n }));
  t.ok(matches({ k: new Date(1500) }, { k: new Date(1999) }), 'timestamps have whole seconds');
});

t.test('strings and byte arrays are both binaries', async (t) => {
  t.ok(matches({ k: 'abc' }, { k: 'abc' }));
  t.ok(matches({ k: 'abc' }, { k: Buffer.from('abc') }));
  t.ok(matches({ k: Buffer.from('é') }, { k: 'é' }));
  t.ok(matches({ k: Buffer.from([0xff]) }, { k: Buffer.from([0xff]) }));
  t.notOk(matches({ k: Buffer.from([0xff]) }, { k: '\ufffd' }), 'invalid UTF-8 bytes equal no string');
  t.notOk(matches({ k: 'abc' }, { k: 'ABC' }));
  t.notOk(matches({ k: '' }, { k: null }));
  t.notOk(matches({ k: '' }, { k: [] }));
});

t.test('booleans, decimals', async (t) => {
  t.ok(matches({ k: true }, { k: true }));
  t.ok(matches({ k: false }, { k: new TypedValue('t', 0) }));
  t.notOk(matches({ k: true }, { k: false }));
  t.notOk(matches({ k: true }, { k: 1 }));
  t.notOk(matches({ k: true }, { k: 'true' }));
  const d = (places: number, digits: number): TypedValue => new TypedValue('D', { places, digits });
  t.ok(matches({ k: d(1, 15) }, { k: d(1, 15) }));
  t.notOk(matches({ k: d(1, 15) }, { k: d(2, 150) }), 'same value, other scale: different tuple');
  t.notOk(matches({ k: d(1, 15) }, { k: 1.5 }));
  t.notOk(matches({ k: 1.5 }, { k: d(1, 15) }));
});

t.test('nested tables and arrays compare with their types, in order', async (t) => {
  t.ok(matches({ k: { a: 1, b: 'x' } }, { k: { a: 1, b: 'x' } }));
  t.notOk(matches({ k: { a: 1 } }, { k: { a: new TypedValue('l', 1) } }), 'int32 vs int64 inside a table');
  t.notOk(matches({ k: { a: 1 } }, { k: { a: 1, b: 2 } }));
  t.notOk(matches({ k: { a: 1, b: 2 } }, { k: { b: 2, a: 1 } }), 'tables are ordered lists');
  t.notOk(matches({ k: { a: 'x' } }, { k: { a: Buffer.from('x') } }), 'longstr vs bytes inside a table');
  t.ok(matches({ k: [1, 'two', [null, true]] }, { k: [1, 'two', [null, true]] }));
  t.notOk(matches({ k: [1, 2] }, { k: [2, 1] }));
  t.notOk(matches({ k: [1] }, { k: [new TypedValue('d', 1)] }));
  t.ok(matches({ k: [new TypedValue('d', 1)] }, { k: [new TypedValue('d', 1)] }));
  t.ok(matches({ k: {} }, { k: [] }), 'empty table and empty array are both []');
  t.notOk(matches({ k: { a: 1 } }, { k: [1] }));
});

t.test('only own header keys count', async (t) => {
  t.notOk(matches({ constructor: null }, {}));
  t.notOk(matches({ toString: null }, { a: 1 }));
  t.ok(matches({ constructor: 'c' }, { constructor: 'c' }));
});

t.test('x-match validation (406 on bind) and legacy fallback to all', async (t) => {
  for (const mode of ['all', 'any', 'all-with-x', 'any-with-x']) {
    t.equal(validateHeadersBindingArgs({ 'x-match': mode }), undefined, mode);
  }
  t.equal(validateHeadersBindingArgs({}), undefined, 'missing means all');
  t.match(validateHeadersBindingArgs({ 'x-match': 'ALL' }), /Invalid x-match field value/);
  t.match(validateHeadersBindingArgs({ 'x-match': 'some' }), /expected all, any, all-with-x, or any-with-x/);
  t.match(validateHeadersBindingArgs({ 'x-match': Buffer.from('all') }), /Invalid x-match field type/);
  t.match(validateHeadersBindingArgs({ 'x-match': 1 }), /expected longstr/);
  t.match(validateHeadersBindingArgs({ 'x-match': null }), /expected longstr/);
  t.match(new HeadersRouter<string>().validateBinding('', { 'x-match': 'nope' }), /Invalid/);
  t.equal(new HeadersMatcher({ 'x-match': 'nope', a: 1 }).mode, 'all');
  t.notOk(matches({ 'x-match': 'nope', a: 1, b: 2 }, { a: 1 }), 'an unknown mode behaves as all');
  t.ok(matches({ 'x-match': 'nope', a: 1, b: 2 }, { a: 1, b: 2 }));
});

t.test('router: routing key ignored for matching, part of identity; each destination once', async (t) => {
  const router = new HeadersRouter<string>();
  t.equal(router.bind('q', 'k1', { 'x-match': 'any', a: 1, b: 2 }), true);
  t.equal(router.bind('q', 'k1', { b: 2, a: 1, 'x-match': 'any' }), false, 'same args, other order');
  t.equal(router.bind('q', 'k2', { 'x-match': 'any', a: 1, b: 2 }), true, 'other routing key');
  t.equal(router.bind('q', 'k1', { c: 3 }), true);
  t.equal(router.bind('r', '', { a: 1 }), true);
  t.equal(router.bind('s', '', { 'x-match': 'any' }), true, 'never matches');
  t.equal(router.bindingCount, 5);
  const route = (headers: FieldTable | undefined, key = 'unrelated'): string[] => {
    const out = new Set<string>();
    router.route(key, headers, out);
    return [...out].sort();
  };
  t.same(route({ a: 1, c: 3 }), ['q', 'r']);
  t.same(route({ b: 2 }, 'k1'), ['q']);
  t.same(route({ c: 3 }), ['q']);
  t.same(route(undefined), []);
  t.equal(router.unbind('q', 'k1', { 'x-match': 'any', a: 1, b: 2 }), true);
  t.equal(router.unbind('q', 'k1', { 'x-match': 'any', a: 1, b: 2 }), false);
  t.same(route({ b: 2 }), ['q'], 'still bound through k2');
  t.equal(router.unbindDestination('q'), 2);
  t.equal(router.bindingCount, 2);
  t.same(route({ a: 1, b: 2, c: 3 }), ['r']);
  t.same([...router.bindings()].map((b) => b.destination).sort(), ['r', 's']);
  t.equal(router.unbindDestination('nobody'), 0);
});
