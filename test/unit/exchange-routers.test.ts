import t from 'tap';
import { ConsistentHashRouter } from '../../src/exchange/consistent-hash-router.js';
import { createExchangeRouter, ExchangeType } from '../../src/exchange/create-exchange-router.js';
import { DirectRouter } from '../../src/exchange/direct-router.js';
import type { ExchangeRouter } from '../../src/exchange/exchange-router.js';
import { FanoutRouter } from '../../src/exchange/fanout-router.js';
import { HeadersRouter } from '../../src/exchange/headers-router.js';
import { TopicRouter } from '../../src/exchange/topic-router.js';
import type { FieldTable } from '../../src/protocol/field-value.js';
import { TypedValue } from '../../src/protocol/field-value.js';

/** Destinations are compared by identity, so use objects that print nicely. */
class Q {
  constructor(readonly name: string) {}
}

function names<D extends Q>(router: ExchangeRouter<D>, key: string, headers?: FieldTable): string[] {
  const out = new Set<D>();
  router.route(key, headers, out);
  return [...out].map((q) => q.name).sort();
}

t.test('factory', async (t) => {
  t.type(createExchangeRouter(ExchangeType.Direct), DirectRouter);
  t.type(createExchangeRouter('fanout'), FanoutRouter);
  t.type(createExchangeRouter('topic'), TopicRouter);
  t.type(createExchangeRouter('headers'), HeadersRouter);
  t.type(createExchangeRouter('x-consistent-hash'), ConsistentHashRouter);
  t.type(createExchangeRouter('x-delayed-message', { 'x-delayed-type': 'topic' }), TopicRouter, 'a delayed exchange routes as its x-delayed-type');
  t.equal(createExchangeRouter('x-delayed-message'), undefined, 'a delayed exchange needs its x-delayed-type');
  t.equal(createExchangeRouter('Direct'), undefined, 'type names are case-sensitive');
  t.equal(createExchangeRouter(''), undefined);
});

// The contract every type shares, with a routing key / binding key pair that matches.
const contract: [type: string, bindKey: string, routeKey: string][] = [
  ['direct', 'k', 'k'],
  ['fanout', 'k', 'anything'],
  ['topic', 'k.#', 'k.x'],
  ['headers', 'k', 'ignored'],
];
for (const [type, bindKey, routeKey] of contract) {
  t.test(`${type}: shared contract`, async (t) => {
    const router = createExchangeRouter<Q>(type)!;
    const q1 = new Q('q1');
    const q2 = new Q('q2');
    const lookalike = new Q('q1');
    t.equal(router.bindingCount, 0);
    t.same(names(router, routeKey), []);

    t.equal(router.bind(q1, bindKey, {}), true);
    t.equal(router.bind(q1, bindKey, {}), false, 'duplicate');
    t.equal(router.bind(q1, bindKey, { a: 1, b: 'x' }), true, 'other args make another binding');
    t.equal(router.bind(q1, bindKey, { b: 'x', a: new TypedValue('l', 1) }), false, 'args compared by value, any key order');
    t.equal(router.bind(q2, bindKey, {}), true);
    t.equal(router.bind(lookalike, bindKey, {}), true, 'destinations compare by identity');
    t.equal(router.bindingCount, 4);
    t.same(names(router, routeKey), ['q1', 'q1', 'q2'], 'q1 reached by two bindings is added once');

    t.equal(router.unbind(q2, bindKey, { a: 1 }), false, 'no such binding');
    t.equal(router.unbind(q2, bindKey, {}), true);
    t.equal(router.unbind(q2, bindKey, {}), false, 'already gone');
    t.equal(router.bindingCount, 3);
    t.same(names(router, routeKey), ['q1', 'q1']);

    t.equal(router.unbindDestination(q1), 2);
    t.equal(router.unbindDestination(q1), 0);
    t.equal(router.bindingCount, 1);
    t.same([...router.bindings()].map((b) => [b.destination, b.routingKey, b.args]), [[lookalike, bindKey, {}]]);
    t.same(names(router, routeKey), ['q1']);
    t.equal(router.unbindDestination(lookalike), 1);
    t.equal(router.bindingCount, 0);
    t.same(names(router, routeKey), []);
    t.equal(router.validateBinding(bindKey, {}), undefined);
  });
}

t.test('direct: exact key only', async (t) => {
  const router = new DirectRouter<Q>();
  const a = new Q('a');
  const ab = new Q('ab');
  const empty = new Q('empty');
  router.bind(a, 'a', {});
  router.bind(ab, 'a.b', {});
  router.bind(empty, '', {});
  t.same(names(router, 'a'), ['a']);
  t.same(names(router, 'a.b'), ['ab']);
  t.same(names(router, ''), ['empty']);
  t.same(names(router, 'A'), [], 'case-sensitive');
  t.same(names(router, 'a.'), []);
  t.same(names(router, '*'), [], 'no wildcards');
  t.same(names(router, '#'), []);
});

t.test('direct: one destination under several keys', async (t) => {
  const router = new DirectRouter<Q>();
  const q = new Q('q');
  const r = new Q('r');
  router.bind(q, 'x', {});
  router.bind(q, 'y', {});
  router.bind(q, 'y', { tag: 1 });
  router.bind(r, 'y', {});
  t.same(names(router, 'x'), ['q']);
  t.same(names(router, 'y'), ['q', 'r']);
  t.equal(router.unbind(q, 'y', {}), true);
  t.same(names(router, 'y'), ['q', 'r'], 'still bound to y with other args');
  t.equal(router.unbind(q, 'y', { tag: 1 }), true);
  t.same(names(router, 'y'), ['r']);
  t.equal(router.unbindDestination(q), 1, 'only the x binding was left');
  t.same(names(router, 'x'), []);
  t.equal(router.bindingCount, 1);
  const keys = [...router.bindings()].map((b) => `${b.destination.name}:${b.routingKey}`);
  t.same(keys, ['r:y']);
});

t.test('fanout: every destination, routing key ignored but part of identity', async (t) => {
  const router = new FanoutRouter<Q>();
  const q = new Q('q');
  const r = new Q('r');
  t.equal(router.bind(q, '', {}), true);
  t.equal(router.bind(q, 'other', {}), true, 'different key, different binding');
  t.equal(router.bind(r, 'z', {}), true);
  t.equal(router.bindingCount, 3);
  t.same(names(router, ''), ['q', 'r']);
  t.same(names(router, 'whatever.key'), ['q', 'r']);
  t.equal(router.unbind(q, 'nope', {}), false);
  t.equal(router.unbind(q, '', {}), true);
  t.same(names(router, ''), ['q', 'r'], 'q still bound with key "other"');
  t.equal(router.unbindDestination(q), 1);
  t.same(names(router, ''), ['r']);
});

t.test('route adds to what out already holds', async (t) => {
  const router = new DirectRouter<Q>();
  const q = new Q('q');
  const earlier = new Q('earlier');
  router.bind(q, 'k', {});
  const out = new Set([earlier, q]);
  router.route('k', undefined, out);
  t.same([...out], [earlier, q]);
});

t.test('args equality is deep', async (t) => {
  const router = new DirectRouter<Q>();
  const q = new Q('q');
  const args: FieldTable = {
    n: { list: [1, 'two', Buffer.from('3'), null, true], when: new Date(5000) },
    d: new TypedValue('D', { places: 1, digits: 15 }),
  };
  const same: FieldTable = {
    d: new TypedValue('D', { places: 1, digits: 15 }),
    n: { when: new Date(5000), list: [new TypedValue('b', 1), 'two', Buffer.from('3'), null, true] },
  };
  t.equal(router.bind(q, 'k', args), true);
  t.equal(router.bind(q, 'k', same), false);
  t.equal(router.bind(q, 'k', { ...same, extra: null }), true, 'extra key');
  t.equal(router.bind(q, 'k', { d: same.d!, n: { list: [1, 'two', Buffer.from('4'), null, true], when: new Date(5000) } }), true);
  t.equal(router.bind(q, 'k', { d: same.d!, n: { list: [1, 'two', Buffer.from('3'), null], when: new Date(5000) } }), true);
  t.equal(router.bind(q, 'k', { d: same.d!, n: { list: [1, 'two', Buffer.from('3'), null, true], when: new Date(6000) } }), true);
  t.equal(router.bind(q, 'k', { d: same.d!, n: [] }), true, 'table vs array');
  t.equal(router.bind(q, 'k', { d: same.d!, n: { list: [1, 'two', Buffer.from('3'), null, true], when: '5000' } }), true);
  t.equal(router.bindingCount, 7);
  t.equal(router.unbind(q, 'k', same), true);
  t.equal(router.bindingCount, 6);
});
