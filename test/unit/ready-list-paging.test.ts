import t from 'tap';
import { Message, type QueuedMessage } from '../../src/queue/message.js';
import { ReadyList } from '../../src/queue/ready-list.js';
import { FakeJournal } from '../support/fake-journal.js';

const EMPTY_PROPERTIES = Buffer.from([0, 0]);

function stored(journal: FakeJournal, seq: number): QueuedMessage {
  const message = Message.fromParts('', 'q', EMPTY_PROPERTIES, Buffer.from(`body ${seq}`));
  message.location = { segment: 1 + Math.floor(seq / 100), offset: 12 + seq };
  journal.stored.set(`${message.location.segment}:${message.location.offset}`, message);
  return { message, seq, redelivered: false };
}

t.test('past the memory limit, persistent messages wait as locations and come back in order', async (t) => {
  const journal = new FakeJournal();
  const list = new ReadyList({ messages: 10, bytes: 1 << 20 });
  list.source = journal;
  for (let i = 0; i < 1000; i++) list.push(stored(journal, i));
  t.equal(list.length, 1000);
  t.equal(journal.reads, 0, 'nothing is read back before it is needed');
  const out: string[] = [];
  for (let qm = list.shift(); qm !== undefined; qm = list.shift()) out.push(qm.message.body.toString());
  t.same(out, Array.from({ length: 1000 }, (_, i) => `body ${i}`));
  t.equal(journal.reads, 990, 'exactly the paged messages were read back');
});

t.test('the byte limit pages too, counting the bytes held in memory', async (t) => {
  const journal = new FakeJournal();
  const list = new ReadyList({ messages: 1000, bytes: 15 });
  list.source = journal;
  for (let i = 0; i < 4; i++) list.push(stored(journal, i)); // bodies of 6 bytes: two fit in 15
  t.same([list.shift()?.seq, list.shift()?.seq], [0, 1]);
  t.equal(journal.reads, 0, 'the first two stayed in memory');
  t.same([list.shift()?.seq, list.shift()?.seq], [2, 3]);
  t.equal(journal.reads, 2, 'the rest were paged');
});

t.test('a message without a journal location (transient) always stays in memory', async (t) => {
  const list = new ReadyList({ messages: 1, bytes: 1 });
  list.source = new FakeJournal();
  for (let i = 0; i < 5; i++) list.push({ message: Message.fromParts('', 'q', EMPTY_PROPERTIES, Buffer.alloc(10)), seq: i, redelivered: false });
  t.equal(list.length, 5);
  t.same([...list.storedLocations()], [], 'nothing of it is in the journal');
  t.equal(list.shift()?.seq, 0);
});

t.test('requeued messages still go ahead of paged ones; storedLocations covers every part', async (t) => {
  const journal = new FakeJournal();
  const list = new ReadyList({ messages: 2, bytes: 1 << 20 });
  list.source = journal;
  for (let i = 0; i < 6; i++) list.push(stored(journal, i));
  const first = list.shift()!;
  list.requeue(first);
  t.same([...list.storedLocations()].map((l) => l.offset).sort((a, b) => a - b), [12, 13, 14, 15, 16, 17]);
  const order: number[] = [];
  for (let qm = list.shift(); qm !== undefined; qm = list.shift()) order.push(qm.seq);
  t.same(order, [0, 1, 2, 3, 4, 5]);
});

t.test('a transient message queued behind paged ones keeps its place', async (t) => {
  const journal = new FakeJournal();
  const list = new ReadyList({ messages: 2, bytes: 1 << 20 });
  list.source = journal;
  for (let i = 0; i < 5; i++) list.push(stored(journal, i));
  list.push({ message: Message.fromParts('', 'q', EMPTY_PROPERTIES, Buffer.from('transient')), seq: 5, redelivered: false });
  list.push(stored(journal, 6));
  t.equal(list.length, 7);
  t.equal([...list.storedLocations()].length, 6, 'the transient message has no journal location to forget');
  const order: number[] = [];
  for (let qm = list.shift(); qm !== undefined; qm = list.shift()) order.push(qm.seq);
  t.same(order, [0, 1, 2, 3, 4, 5, 6]);
});

t.test('a paged message whose read fails stays queued and comes back on the next try', async (t) => {
  const journal = new FakeJournal();
  const list = new ReadyList({ messages: 1, bytes: 1 << 20 });
  list.source = journal;
  for (let i = 0; i < 3; i++) list.push(stored(journal, i));
  t.equal(list.shift()?.seq, 0);
  const failing = journal.load.bind(journal);
  journal.load = () => {
    throw new Error('EIO');
  };
  t.throws(() => list.shift(), /EIO/);
  t.equal(list.length, 2, 'nothing was lost by the failed read');
  journal.load = failing;
  t.same([list.shift()?.seq, list.shift()?.seq], [1, 2]);
});
