import t, { type Test } from 'tap';
import type * as amqp from 'amqplib';
import { connect, openChannel, withBroker, within } from '../support/broker.js';
import { confirmSelect, txSelect } from '../support/channel-methods.js';
import { readyCount } from '../support/messages.js';

interface ConfirmFrame {
  readonly deliveryTag: number;
  readonly multiple: boolean;
}

/** A confirm channel, with every basic.ack and basic.nack frame it receives recorded in order. */
async function confirmChannel(t: Test) {
  const broker = await withBroker(t);
  const connection = await connect(t, broker);
  const channel = await connection.createConfirmChannel();
  // A refused method shows in its own promise; without a listener amqplib would drop the connection.
  channel.on('error', () => {});
  const acks: ConfirmFrame[] = [];
  const nacks: ConfirmFrame[] = [];
  channel.on('ack', (f: ConfirmFrame) => acks.push(f));
  channel.on('nack', (f: ConfirmFrame) => nacks.push(f));
  return { connection, channel, acks, nacks };
}

/** Publishes with a callback and resolves with the callback's error (null for an ack). */
function published(channel: amqp.ConfirmChannel, exchange: string, routingKey: string, options: amqp.Options.Publish = {}): Promise<Error | null> {
  return within(
    new Promise((resolve) => channel.publish(exchange, routingKey, Buffer.from('m'), options, (err) => resolve(err ?? null))),
    5000,
    'confirm',
  );
}

/** The publish sequence numbers a list of ack frames covers, in the order covered. */
function covered(frames: readonly ConfirmFrame[]): number[] {
  const seqs: number[] = [];
  let last = 0;
  for (const f of frames) {
    const from = f.multiple ? last + 1 : f.deliveryTag;
    for (let s = from; s <= f.deliveryTag; s++) seqs.push(s);
    last = Math.max(last, f.deliveryTag);
  }
  return seqs;
}

t.test('in confirm mode every publish is acked exactly once, acks coalesced with multiple=true', async (t) => {
  const { channel, acks, nacks } = await confirmChannel(t);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  const n = 500;
  const calls = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    channel.sendToQueue(queue, Buffer.from(String(i)), {}, (err) => {
      if (err === null || err === undefined) calls[i]!++;
    });
  }
  await within(channel.waitForConfirms(), 5000, 'waitForConfirms');
  t.ok(
    calls.every((c) => c === 1),
    'each publish callback ran once, with no error',
  );
  t.same(nacks, []);
  const seqs = covered(acks);
  t.same(seqs, Array.from({ length: n }, (_, i) => i + 1), 'the acks cover 1..n once each, in order');
  t.ok(
    acks.some((f) => f.multiple),
    'a burst is confirmed with multiple acks',
  );
  t.ok(acks.length < n, `fewer ack frames (${acks.length}) than publishes`);
  t.equal(await readyCount(channel, queue), n, 'and every message is in the queue');
});

t.test('an unroutable mandatory message comes back with basic.return before its ack', async (t) => {
  const { channel } = await confirmChannel(t);
  // Both recorded synchronously as amqplib reads each frame, so the order is the wire order.
  const events: string[] = [];
  channel.on('return', (m: amqp.Message) => events.push(`return ${m.fields.routingKey} ${(m.fields as { replyCode?: number }).replyCode ?? ''}`));
  const confirmed = new Promise<void>((resolve) =>
    channel.publish('', 'nowhere', Buffer.from('m'), { mandatory: true }, (err) => {
      events.push(err ? 'nack' : 'ack');
      resolve();
    }),
  );
  await within(confirmed, 5000, 'confirm');
  t.same(events, ['return nowhere 312', 'ack']);
});

t.test('an unroutable message without mandatory is simply confirmed', async (t) => {
  const { channel, nacks } = await confirmChannel(t);
  let returned = false;
  channel.on('return', () => (returned = true));
  t.equal(await published(channel, 'amq.direct', 'no-binding'), null);
  t.notOk(returned);
  t.same(nacks, []);
});

t.test('a message routed to several queues is confirmed once, with every queue holding it', async (t) => {
  const { channel, acks } = await confirmChannel(t);
  const queues: string[] = [];
  for (let i = 0; i < 3; i++) {
    const { queue } = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(queue, 'amq.fanout', '');
    queues.push(queue);
  }
  t.equal(await published(channel, 'amq.fanout', ''), null);
  t.same(covered(acks), [1]);
  for (const q of queues) t.equal(await readyCount(channel, q), 1);
});

t.test('confirm sequence numbers continue across a mix of routed and returned messages', async (t) => {
  const { channel, acks } = await confirmChannel(t);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  const results = await Promise.all([
    published(channel, '', queue),
    published(channel, '', 'nowhere', { mandatory: true }),
    published(channel, '', queue),
  ]);
  t.same(results, [null, null, null]);
  t.same(covered(acks), [1, 2, 3]);
});

t.test('confirm.select twice on a channel is fine', async (t) => {
  const { channel } = await confirmChannel(t);
  await confirmSelect(channel);
  t.equal(await published(channel, '', 'nowhere'), null);
});

t.test('tx.select on a channel in confirm mode is refused with 406', async (t) => {
  const { connection, channel } = await confirmChannel(t);
  const err = await txSelect(channel).then(
    () => undefined,
    (e: Error & { code?: number }) => e,
  );
  t.equal(err?.code, 406);
  t.match(err?.message, /cannot switch from confirm to tx mode/);
  await (await connection.createChannel()).close();
});

t.test('confirm.select on a transactional channel is refused with 406', async (t) => {
  const broker = await withBroker(t);
  const channel = await openChannel(await connect(t, broker));
  await txSelect(channel);
  const err = await confirmSelect(channel).then(
    () => undefined,
    (e: Error & { code?: number }) => e,
  );
  t.equal(err?.code, 406);
  t.match(err?.message, /cannot switch from tx to confirm mode/);
});
