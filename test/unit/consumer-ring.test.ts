import t from 'tap';
import { ConsumerRing } from '../../src/queue/consumer-ring.js';

interface Fake {
  readonly name: string;
  readonly priority: number;
}

const fake = (name: string, priority = 0): Fake => ({ name, priority });

/** The next `n` picks among the consumers `accepts` lets through. */
function picks(ring: ConsumerRing<Fake>, n: number, accepts: (c: Fake) => boolean = () => true): string[] {
  return Array.from({ length: n }, () => ring.pick(accepts)?.name ?? '-');
}

t.test('consumers of one priority take turns, skipping those that cannot take a message', async (t) => {
  const ring = new ConsumerRing<Fake>();
  for (const name of ['a', 'b', 'c']) ring.add(fake(name));
  t.same(picks(ring, 4), ['a', 'b', 'c', 'a']);
  t.same(picks(ring, 3, (c) => c.name !== 'c'), ['b', 'a', 'b']);
  t.same(picks(ring, 1, () => false), ['-']);
});

t.test('higher priority first; lower ones only when no higher one accepts', async (t) => {
  const ring = new ConsumerRing<Fake>();
  ring.add(fake('low', -1));
  ring.add(fake('high1', 5));
  ring.add(fake('mid', 0));
  ring.add(fake('high2', 5));
  t.same([...ring].map((c) => c.name), ['high1', 'high2', 'mid', 'low']);
  t.same(picks(ring, 3), ['high1', 'high2', 'high1']);
  t.same(picks(ring, 2, (c) => c.priority < 5), ['mid', 'mid']);
  t.same(picks(ring, 1, (c) => c.priority < 0), ['low']);
});

t.test('removing a consumer keeps the turn order of the rest', async (t) => {
  const ring = new ConsumerRing<Fake>();
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => fake(n));
  for (const x of [a, b, c, d]) ring.add(x!);
  t.same(picks(ring, 2), ['a', 'b']);
  t.ok(ring.remove(a!));
  t.notOk(ring.remove(a!), 'a second removal finds nothing');
  t.same(picks(ring, 3), ['c', 'd', 'b']);
  t.equal(ring.size, 3);
  t.same(ring.clear().map((x) => x.name), ['b', 'c', 'd']);
  t.equal(ring.size, 0);
  t.same(picks(ring, 1), ['-']);
});

t.test('a priority group emptied by removals disappears', async (t) => {
  const ring = new ConsumerRing<Fake>();
  const high = fake('high', 9);
  ring.add(high);
  ring.add(fake('base'));
  ring.remove(high);
  t.notOk(ring.some((c) => c.priority === 9));
  t.same(picks(ring, 2), ['base', 'base']);
  ring.add(fake('again', 9));
  t.same(picks(ring, 1), ['again']);
});
