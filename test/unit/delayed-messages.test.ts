import t from 'tap';
import { DueHeap } from '../../src/exchange/due-heap.js';
import { heldDelay, MAX_DELAY } from '../../src/exchange/x-delay.js';
import { TypedValue } from '../../src/protocol/field-value.js';
import { seeded } from '../support/seeded-random.js';

t.test('the heap gives items back by due time, then by arrival', async (t) => {
  const random = seeded(7);
  const heap = new DueHeap<{ dueAt: number; seq: number }>();
  const items = Array.from({ length: 500 }, (_, seq) => ({ dueAt: Math.floor(random() * 50), seq }));
  for (const item of items) heap.push(item);
  t.equal(heap.size, 500);
  const out: { dueAt: number; seq: number }[] = [];
  for (let item = heap.pop(); item !== undefined; item = heap.pop()) out.push(item);
  t.same(out, [...items].sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq));
  t.equal(heap.pop(), undefined);
});

t.test('x-delay is read as the plugin reads it', async (t) => {
  const cases: [unknown, number | undefined][] = [
    [undefined, undefined],
    [250, 250],
    [new TypedValue('b', 5), 5],
    [new TypedValue('l', 7), 7],
    [new TypedValue('u', 9), 9],
    [10n, 10],
    ['300', 300],
    ['+12', 12],
    ['soon', undefined],
    ['1.5', undefined],
    [150.9, 150],
    [new TypedValue('f', 2.5), 2],
    [new TypedValue('D', { places: 1, digits: 125 }), 12],
    [0, undefined],
    [-5, undefined],
    [true, undefined],
    [MAX_DELAY, MAX_DELAY],
    [MAX_DELAY + 1, undefined],
  ];
  for (const [value, expected] of cases) {
    const headers = value === undefined ? {} : { 'x-delay': value as never };
    t.equal(heldDelay(headers), expected, `x-delay ${String(value)}`);
  }
  t.equal(heldDelay(undefined), undefined, 'no headers');
});
