import t from 'tap';
import { NumberDeque } from '../../src/queue/number-deque.js';

t.test('a number deque keeps FIFO order and indexes across its chunks as it grows and drains', async (t) => {
  const deque = new NumberDeque();
  const model: number[] = [];
  const shifted: (number | undefined)[] = [];
  const expected: (number | undefined)[] = [];
  // Past several 8192-number chunks, shifting as it goes so the head crosses chunk boundaries.
  for (let i = 0; i < 40_000; i++) {
    deque.push(i * 1.5);
    model.push(i * 1.5);
    if (i % 3 === 0) {
      shifted.push(deque.shift());
      expected.push(model.shift());
    }
  }
  t.same(shifted, expected, 'shift gives the numbers in the order pushed');
  t.equal(deque.length, model.length, 'length');
  const probes = [0, 1, 8190, 8191, 8192, model.length - 1];
  t.same(probes.map((i) => deque.at(i)), probes.map((i) => model[i]), 'at() across chunks');
  t.equal(deque.at(model.length), undefined, 'nothing past the end');
  deque.retain((n, i) => i % 2 === 0 && n >= 0);
  const kept = model.filter((_, i) => i % 2 === 0);
  t.equal(deque.length, kept.length, 'retain keeps what it is told');
  t.same([deque.at(0), deque.at(kept.length - 1)], [kept[0], kept[kept.length - 1]], 'in order');
  let drained = 0;
  while (deque.shift() !== undefined) drained++;
  t.equal(drained, kept.length, 'drains to empty');
  deque.push(7);
  t.same([deque.length, deque.at(0)], [1, 7], 'and takes numbers again');
});
