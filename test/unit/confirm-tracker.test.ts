import t from 'tap';
import { ConfirmTracker } from '../../src/channel/confirm-tracker.js';

type Sent = [kind: 'ack' | 'nack', deliveryTag: number, multiple: boolean];

function tracker(): { tracker: ConfirmTracker; sent: Sent[] } {
  const sent: Sent[] = [];
  const tracker = new ConfirmTracker({ sendConfirm: (ack, tag, multiple) => sent.push([ack ? 'ack' : 'nack', tag, multiple]), ackDue: () => {} });
  return { tracker, sent };
}

/**
 * What a client makes of the confirms (amqplib's rule: a multiple ack covers
 * every publish up to its tag), failing on a publish answered twice.
 */
function outcome(sent: readonly Sent[]): Map<number, 'ack' | 'nack'> {
  const answers = new Map<number, 'ack' | 'nack'>();
  let floor = 0;
  const answer = (seq: number, kind: 'ack' | 'nack'): void => {
    if (answers.has(seq)) throw new Error(`publish ${seq} answered twice`);
    answers.set(seq, kind);
  };
  for (const [kind, tag, multiple] of sent) {
    if (multiple) {
      for (let s = floor + 1; s <= tag; s++) if (!answers.has(s)) answer(s, kind);
      floor = tag;
    } else {
      answer(tag, kind);
    }
  }
  return answers;
}

t.test('publishes settled together are confirmed by one multiple ack at flush', async (t) => {
  const { tracker: c, sent } = tracker();
  t.same([c.publish(0), c.publish(0), c.publish(0)], [1, 2, 3], 'numbered from 1');
  t.same(sent, [], 'nothing before the flush');
  c.flush();
  t.same(sent, [['ack', 3, true]]);
  c.publish(0);
  c.flush();
  t.same(sent.at(-1), ['ack', 4, false], 'a run of one is a single ack');
  c.flush();
  t.equal(sent.length, 2, 'a flush with nothing new sends nothing');
});

t.test('a publish waits until every queue it went to has accepted it', async (t) => {
  const { tracker: c, sent } = tracker();
  const seq = c.publish(2);
  c.settle(seq, true);
  c.flush();
  t.same(sent, []);
  c.settle(seq, true);
  c.flush();
  t.same(sent, [['ack', 1, false]]);
});

t.test('settled out of order: acks go out individually beyond a gap, and nothing is acked twice', async (t) => {
  const { tracker: c, sent } = tracker();
  for (let i = 0; i < 4; i++) c.publish(1);
  c.settle(3, true);
  c.flush();
  t.same(sent, [['ack', 3, false]], 'publish 3 acked alone while 1 and 2 are outstanding');
  c.settle(1, true);
  c.flush();
  t.same(sent.at(-1), ['ack', 1, false]);
  c.settle(2, true);
  c.settle(4, true);
  c.flush();
  t.same(sent.slice(2), [
    ['ack', 2, false],
    ['ack', 4, false],
  ]);
  t.same([...outcome(sent)].sort(([a], [b]) => a - b), [
    [1, 'ack'],
    [2, 'ack'],
    [3, 'ack'],
    [4, 'ack'],
  ]);
});

t.test('a nack goes out at once and no multiple ack reaches back over it', async (t) => {
  const { tracker: c, sent } = tracker();
  for (let i = 0; i < 5; i++) c.publish(1);
  c.settle(1, true);
  c.settle(2, true);
  c.settle(3, false);
  t.same(sent, [['nack', 3, false]], 'the nack is not held for the flush');
  c.settle(4, true);
  c.settle(5, true);
  c.flush();
  t.same(sent.slice(1), [
    ['ack', 2, true],
    ['ack', 5, true],
  ]);
  t.same(outcome(sent), new Map([
    [3, 'nack'],
    [1, 'ack'],
    [2, 'ack'],
    [4, 'ack'],
    [5, 'ack'],
  ]));
});

t.test('a nack ahead of the acked run, with more settled past a gap', async (t) => {
  const { tracker: c, sent } = tracker();
  for (let i = 0; i < 6; i++) c.publish(1);
  c.settle(1, false);
  c.settle(2, true);
  c.settle(4, true);
  c.settle(5, false);
  c.flush();
  c.settle(3, true);
  c.settle(6, true);
  c.flush();
  const result = outcome(sent);
  t.same(
    [1, 2, 3, 4, 5, 6].map((s) => result.get(s)),
    ['nack', 'ack', 'ack', 'ack', 'nack', 'ack'],
  );
});

t.test('a refusal from one queue nacks a publish that other queues accepted; later reports are ignored', async (t) => {
  const { tracker: c, sent } = tracker();
  const seq = c.publish(3);
  c.settle(seq, true);
  c.settle(seq, false);
  c.settle(seq, true);
  c.flush();
  t.same(sent, [['nack', 1, false]]);
});

t.test('random settle orders: every publish is answered exactly once, as settled', async (t) => {
  let seed = 42;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let round = 0; round < 200; round++) {
    const { tracker: c, sent } = tracker();
    const expected = new Map<number, 'ack' | 'nack'>();
    const pending: number[] = [];
    for (let i = 1 + random(12); i > 0; i--) {
      const settledNow = random(3) === 0;
      const seq = c.publish(settledNow ? 0 : 1);
      if (settledNow) expected.set(seq, 'ack');
      else pending.push(seq);
      if (random(4) === 0) c.flush();
    }
    while (pending.length > 0) {
      const seq = pending.splice(random(pending.length), 1)[0]!;
      const ok = random(4) !== 0;
      c.settle(seq, ok);
      expected.set(seq, ok ? 'ack' : 'nack');
      if (random(3) === 0) c.flush();
    }
    c.flush();
    t.same(outcome(sent), expected, `round ${round}`);
  }
});
