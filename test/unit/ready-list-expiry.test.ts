import t from 'tap';
import { Message, type QueuedMessage } from '../../src/queue/message.js';
import { ReadyList } from '../../src/queue/ready-list.js';
import { FakeJournal } from '../support/fake-journal.js';

// Removing expired messages from anywhere in a ready list: memory, requeued,
// and the paged tail that keeps only numbers (expiries included).

const EMPTY_PROPERTIES = Buffer.from([0, 0]);

/** A message of `size` bytes, stored in the journal unless `transient`; expiring at `expiresAt` if given. */
function entry(journal: FakeJournal, seq: number, expiresAt?: number, transient = false, size = 2): QueuedMessage {
  const message = Message.fromParts('', 'q', EMPTY_PROPERTIES, Buffer.alloc(size, seq % 10));
  if (!transient) {
    message.location = { segment: 1, offset: 100 + seq };
    journal.stored.set(`1:${100 + seq}`, message);
  }
  return expiresAt === undefined ? { message, seq, redelivered: false } : { message, seq, redelivered: false, expiresAt };
}

const seqs = (list: readonly QueuedMessage[]): number[] => list.map((qm) => qm.seq);

function shiftAll(list: ReadyList): number[] {
  const out: number[] = [];
  for (let qm = list.shift(); qm !== undefined; qm = list.shift()) out.push(qm.seq);
  return out;
}

t.test('expired messages come out of memory, the requeued list and the paged tail, in queue order', async (t) => {
  const journal = new FakeJournal();
  const list = new ReadyList({ messages: 3, bytes: 1 << 20 });
  list.source = journal;
  const expiries = [undefined, 5, undefined, 5, undefined, 5, undefined, 5, 50];
  const pushed = expiries.map((e, seq) => entry(journal, seq, e, seq === 7));
  const first = pushed[0]!;
  for (const qm of pushed) list.push(qm);
  list.shift();
  list.requeue(first);
  const seen: number[] = [];
  const removed = list.removeWhere((expiresAt) => {
    seen.push(expiresAt);
    return expiresAt <= 10;
  });
  t.same(seen, [Infinity, 5, Infinity, 5, Infinity, 5, Infinity, 5, 50], 'every expiry seen once, in queue order');
  t.same(seqs(removed), [1, 3, 5, 7], 'memory, paged and held (transient) ones');
  t.equal(removed[2]!.expiresAt, 5, 'a paged one read back with its expiry');
  t.equal(list.length, 5);
  t.equal(list.bytes, 10, 'bytes follow');
  t.same(shiftAll(list), [0, 2, 4, 6, 8], 'the rest in order');
  t.equal(list.bytes, 0);
});

t.test('a paged tail starts keeping expiries at its first expiring message', async (t) => {
  const journal = new FakeJournal();
  const list = new ReadyList({ messages: 1, bytes: 1 << 20 });
  list.source = journal;
  for (let seq = 0; seq < 4; seq++) list.push(entry(journal, seq));
  list.push(entry(journal, 4, 7));
  list.push(entry(journal, 5));
  const seen: number[] = [];
  list.removeWhere((e) => {
    seen.push(e);
    return false;
  });
  t.same(seen, [Infinity, Infinity, Infinity, Infinity, 7, Infinity], 'earlier entries never expire');
  const out: (number | undefined)[] = [];
  for (let qm = list.shift(); qm !== undefined; qm = list.shift()) out.push(qm.expiresAt);
  t.same(out, [undefined, undefined, undefined, undefined, 7, undefined], 'read back with the expiry they had');
});

t.test('recovered messages count their bytes when read back, or all at once when asked', async (t) => {
  const journal = new FakeJournal();
  const lazily = new ReadyList({ messages: 10, bytes: 1 << 20 });
  lazily.source = journal;
  const eagerly = new ReadyList({ messages: 10, bytes: 1 << 20 });
  eagerly.source = journal;
  for (let seq = 0; seq < 3; seq++) {
    const { message } = entry(journal, seq, undefined, false, 4);
    lazily.pushStored(seq, message.location!, false);
    eagerly.pushStored(seq, message.location!, false);
  }
  eagerly.countStoredBytes();
  t.equal(lazily.bytes, 0, 'not read yet');
  t.equal(eagerly.bytes, 12, 'all counted');
  lazily.push(entry(journal, 3, undefined, true, 1));
  t.equal(lazily.peek()?.seq, 0);
  t.equal(lazily.bytes, 13, 'counted once read back');
  t.same(shiftAll(lazily), [0, 1, 2, 3]);
  t.same(shiftAll(eagerly), [0, 1, 2]);
  t.same([lazily.bytes, eagerly.bytes], [0, 0]);
});
