import t from 'tap';
import { Message, type QueuedMessage } from '../../src/queue/message.js';
import { ReadyList } from '../../src/queue/ready-list.js';

const EMPTY_PROPERTIES = Buffer.from([0, 0]);

function queued(seq: number, bodySize = 1): QueuedMessage {
  return { message: Message.fromParts('', 'q', EMPTY_PROPERTIES, Buffer.alloc(bodySize)), seq, redelivered: false };
}

/** Shifts everything, returning the sequence numbers in the order they came out. */
function shiftAll(list: ReadyList): number[] {
  const out: number[] = [];
  for (let qm = list.shift(); qm !== undefined; qm = list.shift()) out.push(qm.seq);
  return out;
}

t.test('messages come out in the order they were pushed', async (t) => {
  const list = new ReadyList();
  for (let i = 0; i < 5; i++) list.push(queued(i));
  t.equal(list.length, 5);
  t.equal(list.peek()?.seq, 0);
  t.same(shiftAll(list), [0, 1, 2, 3, 4]);
  t.equal(list.length, 0);
  t.equal(list.shift(), undefined);
  t.equal(list.peek(), undefined);
});

t.test('a requeued message goes back to its original place, ahead of later ones', async (t) => {
  const list = new ReadyList();
  const all = [0, 1, 2, 3, 4, 5].map((s) => queued(s));
  for (const qm of all) list.push(qm);
  const taken = [list.shift()!, list.shift()!, list.shift()!];
  list.requeue(taken[2]!);
  list.requeue(taken[0]!);
  list.push(queued(6));
  t.equal(list.length, 6);
  t.same(shiftAll(list), [0, 2, 3, 4, 5, 6]);
});

t.test('requeues interleave with the remaining messages by sequence', async (t) => {
  const list = new ReadyList();
  for (let i = 0; i < 10; i++) list.push(queued(i));
  const taken = Array.from({ length: 10 }, () => list.shift()!);
  for (const i of [7, 1, 9, 3]) list.requeue(taken[i]!);
  for (let i = 10; i < 12; i++) list.push(queued(i));
  t.same(shiftAll(list), [1, 3, 7, 9, 10, 11]);
});

t.test('clear drops everything and says how much', async (t) => {
  const list = new ReadyList();
  list.push(queued(0, 10));
  list.push(queued(1, 20));
  list.requeue(list.shift()!);
  t.equal(list.clear(), 2);
  t.equal(list.length, 0);
  t.equal(list.shift(), undefined);
});

t.test('clear drops pushed and requeued messages alike', async (t) => {
  const list = new ReadyList();
  for (let i = 0; i < 3; i++) list.push(queued(i));
  list.requeue(list.shift()!);
  t.equal(list.clear(), 3);
  t.same(shiftAll(list), []);
  list.push(queued(3));
  t.same(shiftAll(list), [3], 'usable after clear');
});

t.test('order holds across the compaction of a long consumed prefix', async (t) => {
  const list = new ReadyList();
  const n = 20000;
  for (let i = 0; i < n; i++) list.push(queued(i));
  const held: QueuedMessage[] = [];
  for (let i = 0; i < 15000; i++) {
    const qm = list.shift()!;
    if (i % 1000 === 0) held.push(qm);
  }
  for (const qm of held.reverse()) list.requeue(qm);
  const expected = [...held.map((qm) => qm.seq).sort((a, b) => a - b), ...Array.from({ length: n - 15000 }, (_, i) => 15000 + i)];
  t.equal(list.length, expected.length);
  t.same(shiftAll(list), expected);
});
