import t from 'tap';
import { TopicRouter } from '../../src/exchange/topic-router.js';
import { normalizeBindingWords, splitTopicKey } from '../../src/exchange/topic-trie.js';

// Independent oracle: RabbitMQ's word semantics as a plain backtracking matcher.
function words(key: string): string[] {
  return key === '' ? [] : key.split('.');
}
function oracleWords(p: readonly string[], r: readonly string[]): boolean {
  if (p.length === 0) return r.length === 0;
  const [head, ...rest] = p;
  if (head === '#') {
    for (let i = 0; i <= r.length; i++) if (oracleWords(rest, r.slice(i))) return true;
    return false;
  }
  if (r.length === 0) return false;
  return (head === '*' || head === r[0]) && oracleWords(rest, r.slice(1));
}
function oracle(pattern: string, key: string): boolean {
  return oracleWords(words(pattern), words(key));
}

/** Every '.'-join of 0..maxLen words from the alphabet, deduplicated. */
function sequences(alphabet: readonly string[], maxLen: number): string[] {
  const out = new Set<string>();
  let level: string[][] = [[]];
  for (let len = 0; len <= maxLen; len++) {
    for (const seq of level) out.add(seq.join('.'));
    level = level.flatMap((seq) => alphabet.map((w) => [...seq, w]));
  }
  return [...out];
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function routed(router: TopicRouter<string>, key: string): string[] {
  const out = new Set<string>();
  router.route(key, undefined, out);
  return [...out].sort();
}

/** Compares the router with the oracle for every key; returns the mismatches. */
function mismatches(router: TopicRouter<string>, patterns: readonly string[], keys: readonly string[]): string[] {
  const bad: string[] = [];
  for (const key of keys) {
    const want = patterns.filter((p) => oracle(p, key)).sort();
    const got = routed(router, key);
    if (JSON.stringify(got) !== JSON.stringify(want)) bad.push(`key ${JSON.stringify(key)}: got ${JSON.stringify(got)} want ${JSON.stringify(want)}`);
  }
  return bad;
}

const PATTERNS = sequences(['a', '', '*', '#'], 4);
const KEYS = sequences(['a', 'b', ''], 4);

t.test('oracle sanity (so a broken oracle cannot hide a broken router)', async (t) => {
  t.ok(oracle('#', ''));
  t.ok(oracle('a.#', 'a'));
  t.ok(oracle('*.*', '.'));
  t.notOk(oracle('*', ''));
  t.notOk(oracle('a.*', 'a'));
  t.ok(PATTERNS.length > 300 && KEYS.length > 100);
});

for (const cacheSize of [0, 1024, 3]) {
  t.test(`every generated key against every generated pattern (cacheSize ${cacheSize})`, async (t) => {
    const router = new TopicRouter<string>({ cacheSize });
    for (const p of PATTERNS) t.equal(router.bind(p, p, {}), true, `bind ${JSON.stringify(p)}`);
    t.equal(router.bindingCount, PATTERNS.length);
    t.same(mismatches(router, PATTERNS, KEYS), [], 'first pass');
    t.same(mismatches(router, PATTERNS, KEYS), [], 'second pass (cache hits)');

    // Remove every other pattern: pruning must not lose the remaining ones.
    const kept = PATTERNS.filter((_, i) => i % 2 === 0);
    for (const [i, p] of PATTERNS.entries()) if (i % 2 === 1) t.equal(router.unbind(p, p, {}), true);
    t.equal(router.bindingCount, kept.length);
    t.same(mismatches(router, kept, KEYS), [], 'after unbinding half');
    for (const p of kept) router.unbind(p, p, {});
    t.equal(router.bindingCount, 0);
    t.same([...router.bindings()], []);
    t.same(routed(router, 'a'), []);
  });
}

t.test('random longer keys and patterns, several #, literal * and # in keys', async (t) => {
  const rand = rng(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const gen = (alphabet: readonly string[], max: number): string =>
    Array.from({ length: Math.floor(rand() * (max + 1)) }, () => pick(alphabet)).join('.');
  const patterns = [...new Set(Array.from({ length: 400 }, () => gen(['a', 'b', '', '*', '#', '#'], 7)))];
  const keys = [...new Set(Array.from({ length: 400 }, () => gen(['a', 'b', '', '*', '#'], 9)))];
  const router = new TopicRouter<string>();
  for (const p of patterns) router.bind(p, p, {});
  t.same(mismatches(router, patterns, keys), []);
});

t.test('explicit cases', async (t) => {
  const cases: [pattern: string, key: string, match: boolean][] = [
    ['#', '', true],
    ['#', 'a.b.c', true],
    ['#.#', '', true],
    ['#.#', 'a', true],
    ['a.#', 'a', true],
    ['a.#', 'a.b.c', true],
    ['a.#', 'b', false],
    ['#.a', 'a', true],
    ['#.a', 'b.a', true],
    ['#.a', 'a.b', false],
    ['a.#.b', 'a.b', true],
    ['a.#.b', 'a.x.y.b', true],
    ['a.#.b', 'a..b', true],
    ['a.*.#', 'a', false],
    ['a.*.#', 'a.b.c', true],
    ['#.*', '', false],
    ['#.*', 'a', true],
    ['*', '', false],
    ['*', 'a', true],
    ['*', 'a.b', false],
    ['*', '.', false],
    ['*.*', '.', true],
    ['', '', true],
    ['', 'a', false],
    ['a', '', false],
    ['a.*.b', 'a..b', true],
    ['a..b', 'a..b', true],
    ['a.b', 'a..b', false],
    ['a.*', 'a.', true],
    ['a.', 'a.', true],
    ['a.', 'a', false],
    ['*', '*', true],
    ['#', '#', true],
    ['a', '*', false],
    ['stock.*.nyse', 'stock.ibm.nyse', true],
    ['stock.*.nyse', 'stock.nyse', false],
  ];
  for (const [pattern, key, match] of cases) {
    t.equal(oracle(pattern, key), match, `oracle: ${JSON.stringify(pattern)} ~ ${JSON.stringify(key)}`);
    const router = new TopicRouter<string>();
    router.bind('q', pattern, {});
    t.same(routed(router, key), match ? ['q'] : [], `${JSON.stringify(pattern)} ~ ${JSON.stringify(key)}`);
  }
});

t.test('many # against a long key stays fast (no backtracking blow-up)', { timeout: 5000 }, async (t) => {
  const router = new TopicRouter<string>({ cacheSize: 0 });
  router.bind('miss', '#.a.#.a.#.a.#.a.#.a.#.a.#.c', {});
  router.bind('hit', '#.a.#.a.#.a.#.a.#.a.#.a.#', {});
  const key = Array.from({ length: 120 }, () => 'a').join('.');
  const started = process.hrtime.bigint();
  for (let i = 0; i < 100; i++) t.same(routed(router, key), ['hit']);
  t.ok(process.hrtime.bigint() - started < 2_000_000_000n, 'well under 2 s for 100 routes');
});

t.test('wildcard runs are normalised but bindings keep their original key', async (t) => {
  t.same(normalizeBindingWords(splitTopicKey('#.#.a.#.*.#')), ['#', 'a', '*', '#']);
  t.same(splitTopicKey(''), []);
  t.same(splitTopicKey('a..'), ['a', '', '']);
  const router = new TopicRouter<string>();
  t.equal(router.bind('q', '#.#', {}), true);
  t.equal(router.bind('q', '#', {}), true, 'a different binding key, so a different binding');
  t.equal(router.bind('q', '#.#', {}), false, 'duplicate');
  t.equal(router.bindingCount, 2);
  t.same([...router.bindings()].map((b) => b.routingKey).sort(), ['#', '#.#']);
  t.equal(router.unbind('q', '#.#', {}), true);
  t.equal(router.unbind('q', '#.#', {}), false);
  t.same(routed(router, 'x'), ['q'], 'the "#" binding still routes');
});

t.test('cache is invalidated by bind, unbind and unbindDestination', async (t) => {
  const router = new TopicRouter<string>();
  t.same(routed(router, 'a.b'), []);
  router.bind('q1', 'a.b', {});
  t.same(routed(router, 'a.b'), ['q1']);
  t.same(routed(router, 'a.b'), ['q1']);
  router.bind('q2', 'a.*', {});
  t.same(routed(router, 'a.b'), ['q1', 'q2']);
  router.unbind('q1', 'a.b', {});
  t.same(routed(router, 'a.b'), ['q2']);
  router.unbindDestination('q2');
  t.same(routed(router, 'a.b'), []);
});

t.test('a miss does not cache what out already held', async (t) => {
  const router = new TopicRouter<string>();
  router.bind('q', 'a', {});
  const out = new Set(['other']);
  router.route('a', undefined, out);
  t.same([...out].sort(), ['other', 'q']);
  t.same(routed(router, 'a'), ['q']);
});

t.test('unbindDestination, args identity, destination reached twice', async (t) => {
  const router = new TopicRouter<string>();
  t.equal(router.bind('q', 'a.*', {}), true);
  t.equal(router.bind('q', 'a.#', {}), true);
  t.equal(router.bind('q', 'a.*', { k: 1 }), true, 'same key, other args');
  t.equal(router.bind('q', 'a.*', { k: 1 }), false);
  t.equal(router.bind('r', 'a.b', {}), true);
  t.equal(router.bindingCount, 4);
  const out = new Set<string>();
  router.route('a.b', undefined, out);
  t.same([...out].sort(), ['q', 'r'], 'q matched by three bindings, added once');
  t.equal(router.unbind('q', 'a.*', { k: 2 }), false, 'args must match');
  t.equal(router.unbindDestination('q'), 3);
  t.equal(router.unbindDestination('q'), 0);
  t.equal(router.bindingCount, 1);
  t.same(routed(router, 'a.b'), ['r']);
  t.same(routed(router, 'a.c'), []);
});
