import t from 'tap';
import { Message, type QueuedMessage } from '../../src/queue/message.js';
import { PriorityReadyList } from '../../src/queue/priority-ready-list.js';
import { FakeJournal } from '../support/fake-journal.js';

/** Property flags word with only the priority flag, then the priority octet. */
const withPriority = (p: number): Buffer => Buffer.from([0x08, 0x00, p]);

/** Message `seq` of priority `p`, stored in `journal` when one is given. */
function entry(seq: number, p: number, journal?: FakeJournal, expiresAt?: number): QueuedMessage {
  const message = Message.fromParts('', 'q', withPriority(p), Buffer.from(String(seq)));
  if (journal !== undefined) {
    message.location = { segment: 1, offset: 100 + seq };
    journal.stored.set(`1:${100 + seq}`, message);
  }
  return expiresAt === undefined ? { message, seq, redelivered: false } : { message, seq, redelivered: false, expiresAt };
}

function drain(list: PriorityReadyList): number[] {
  const seqs: number[] = [];
  for (let qm = list.shift(); qm !== undefined; qm = list.shift()) seqs.push(qm.seq);
  return seqs;
}

t.test('push tells whether the message joined the back or went ahead of lower priorities', async (t) => {
  const list = new PriorityReadyList(5);
  t.equal(list.push(entry(0, 1)), true, 'first message');
  t.equal(list.push(entry(1, 1)), true, 'same priority: behind');
  t.equal(list.push(entry(2, 0)), true, 'lower priority: behind everything');
  t.equal(list.push(entry(3, 9)), false, 'clamped to 5, ahead of the others');
  t.equal(list.length, 4);
  t.same(drain(list), [3, 0, 1, 2]);
  t.equal(list.push(entry(4, 3)), true, 'into an empty queue');
});

t.test('the levels share one memory limit: past it persistent messages of any priority are paged', async (t) => {
  const journal = new FakeJournal();
  const list = new PriorityReadyList(3, { messages: 10, bytes: 1 << 20 });
  list.source = journal;
  for (let i = 0; i < 100; i++) list.push(entry(i, i % 4, journal));
  t.equal(journal.reads, 0, 'nothing read back yet');
  const order = drain(list);
  t.same(order, [3, 2, 1, 0].flatMap((p) => Array.from({ length: 25 }, (_, k) => 4 * k + p)));
  t.equal(journal.reads, 90, 'only the first ten stayed in memory');
});

t.test('recovered messages go to their level by the priority the journal kept, in publish order', async (t) => {
  const journal = new FakeJournal();
  const list = new PriorityReadyList(2);
  list.source = journal;
  for (const seq of [4, 0, 3, 1, 2]) {
    const qm = entry(seq, seq % 3, journal);
    list.pushStored(seq, qm.message.location!, seq === 0, undefined, seq % 3);
  }
  list.sortStored();
  t.equal(list.length, 5);
  const first = list.shift()!;
  t.same([first.seq, first.redelivered], [2, false]);
  t.same(drain(list), [1, 4, 0, 3]);
});

t.test('requeue, removeWhere and clear work across levels, in queue order', async (t) => {
  const list = new PriorityReadyList(9);
  for (let i = 0; i < 6; i++) list.push(entry(i, i % 2 === 0 ? 0 : 9, undefined, 1000 + i));
  const head = list.shift()!;
  t.equal(head.seq, 1);
  list.requeue(head);
  const seen: number[] = [];
  const removed = list.removeWhere((expiresAt) => {
    seen.push(expiresAt - 1000);
    return expiresAt - 1000 === 3 || expiresAt - 1000 === 2;
  });
  t.same(seen, [1, 3, 5, 0, 2, 4], 'every message seen once, highest level first');
  t.same(removed.map((qm) => qm.seq), [3, 2]);
  t.equal(list.length, 4);
  t.equal(list.bytes, 4, 'bytes of what is left');
  t.equal(list.clear(), 4);
  t.equal(list.length, 0);
  t.equal(list.peek(), undefined);
});
