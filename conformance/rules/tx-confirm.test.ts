import type * as amqp from 'amqplib';
import t, { type Test } from 'tap';
import { delay, eventually } from '../../test/support/broker.js';
import { MethodId } from '../../src/protocol/generated/amqp-methods.js';
import { open, rawContent, rawOpen, rawPublish, removeAfter, session, target, unique, type Target } from './support.js';

// The tx and confirm classes.

/** A fanout exchange with two queues bound, removed when the test ends. */
async function fanoutPair(t: Test, to: Target, channel: amqp.Channel, durable = false): Promise<{ exchange: string; queues: string[] }> {
  const exchange = unique('fan');
  const queues = [unique('q1'), unique('q2')];
  removeAfter(t, to, { queues, exchanges: [exchange] });
  await channel.assertExchange(exchange, 'fanout', { durable: false });
  for (const q of queues) {
    await channel.assertQueue(q, { durable });
    await channel.bindQueue(q, exchange, '');
  }
  return { exchange, queues };
}

const counts = async (channel: amqp.Channel, queues: string[]): Promise<number[]> => Promise.all(queues.map(async (q) => (await channel.checkQueue(q)).messageCount));

t.test('[tx/not-multiple-queues] a commit delivers to every queue a message was routed to; a rollback to none', async (t) => {
  const to = await target(t);
  const connection = await open(t, to);
  const observer = await connection.createChannel();
  const { exchange, queues } = await fanoutPair(t, to, observer);
  const raw = await rawOpen(t, to);
  await raw.openChannel(1);
  raw.method(1, { id: MethodId.TxSelect });
  await raw.expectMethod(MethodId.TxSelectOk, 1);
  rawPublish(raw, 1, Buffer.from('kept'), { exchange, routingKey: '' });
  await delay(150);
  t.same(await counts(observer, queues), [0, 0], 'nothing before the commit');
  raw.method(1, { id: MethodId.TxCommit });
  await raw.expectMethod(MethodId.TxCommitOk, 1);
  await eventually(async () => (await counts(observer, queues)).every((n) => n === 1), 2000, 'both queues after the commit');
  rawPublish(raw, 1, Buffer.from('dropped'), { exchange, routingKey: '' });
  raw.method(1, { id: MethodId.TxRollback });
  await raw.expectMethod(MethodId.TxRollbackOk, 1);
  await delay(150);
  t.same(await counts(observer, queues), [1, 1], 'a rolled-back message reaches neither');
});

t.test('[tx/not-immediate] immediate=true on a transacted channel is refused with 540, as everywhere in RabbitMQ', async (t) => {
  const to = await target(t);
  const raw = await rawOpen(t, to);
  await raw.openChannel(1);
  raw.method(1, { id: MethodId.TxSelect });
  await raw.expectMethod(MethodId.TxSelectOk, 1);
  rawPublish(raw, 1, Buffer.from('now'), { exchange: 'amq.direct', routingKey: 'k', immediate: true });
  t.equal((await raw.expectClose()).replyCode, 540);
});

t.test('[tx/not-mandatory] on a transacted channel an unroutable mandatory message is returned at commit, not at publish', async (t) => {
  const to = await target(t);
  const raw = await rawOpen(t, to);
  await raw.openChannel(1);
  raw.method(1, { id: MethodId.TxSelect });
  await raw.expectMethod(MethodId.TxSelectOk, 1);
  rawPublish(raw, 1, Buffer.from('bounce'), { exchange: 'amq.direct', routingKey: unique('nowhere'), mandatory: true });
  t.ok(await raw.quietFor(300), 'no basic.return before the commit');
  raw.method(1, { id: MethodId.TxCommit });
  const ret = await raw.expectMethod(MethodId.BasicReturn, 1);
  t.equal(ret.replyCode, 312, 'basic.return 312 after the commit');
  t.equal((await rawContent(raw)).body.toString(), 'bounce');
  await raw.expectMethod(MethodId.TxCommitOk, 1);
  t.pass('then commit-ok');
});

t.test('[tx.commit/transacted] [tx.rollback/transacted] commit or rollback on a channel that is not transacted is refused with 406', async (t) => {
  const to = await target(t);
  const raw = await rawOpen(t, to);
  for (const [channel, id, name] of [
    [1, MethodId.TxCommit, 'commit'],
    [2, MethodId.TxRollback, 'rollback'],
  ] as const) {
    await raw.openChannel(channel);
    raw.method(channel, { id });
    const close = await raw.expectChannelClose(channel);
    t.equal(close.replyCode, 406, `tx.${name}`);
  }
});

t.test('[confirm/all-messages-acknowledged] every message published after confirm.select is acknowledged, routable or not', async (t) => {
  const to = await target(t);
  const { channel: setup } = await session(t, to);
  const queue = unique('confirm-all');
  removeAfter(t, to, { queues: [queue] });
  await setup.assertQueue(queue, { durable: true });
  const raw = await rawOpen(t, to);
  await raw.openChannel(1);
  raw.method(1, { id: MethodId.ConfirmSelect, nowait: false });
  await raw.expectMethod(MethodId.ConfirmSelectOk, 1);
  const n = 200;
  for (let i = 0; i < n; i++) {
    const routable = i % 3 !== 0;
    rawPublish(raw, 1, Buffer.from(String(i)), { exchange: '', routingKey: routable ? queue : unique('nowhere'), properties: { deliveryMode: i % 2 === 0 ? 2 : 1 } });
  }
  // Acks may come out of order (an unroutable message is confirmed at once); multiple covers every earlier tag.
  const acked = new Set<number>();
  while (acked.size < n) {
    const { method } = await raw.next(5000);
    if (method?.id !== MethodId.BasicAck) throw new Error(`expected basic.ack, got ${JSON.stringify(method)}`);
    for (let tag = method.multiple ? 1 : method.deliveryTag; tag <= method.deliveryTag; tag++) acked.add(tag);
  }
  t.equal(acked.size, n, `all ${n} publishes acknowledged, none nacked`);
});

t.test('[confirm/all-queues] a message routed to several queues is acknowledged once every queue has it', async (t) => {
  const to = await target(t);
  const connection = await open(t, to);
  const observer = await connection.createChannel();
  const { exchange, queues } = await fanoutPair(t, to, observer, true);
  const confirm = await connection.createConfirmChannel();
  for (let i = 0; i < 20; i++) {
    await new Promise<void>((resolve, reject) => confirm.publish(exchange, '', Buffer.from(String(i)), { persistent: true }, (err) => (err ? reject(err) : resolve())));
    t.same(await counts(observer, queues), [i + 1, i + 1], `message ${i}: both queues hold it when it is confirmed`);
  }
});

t.test('[confirm/unroutable-messages] an unroutable mandatory message is returned before it is acknowledged', async (t) => {
  const to = await target(t);
  const raw = await rawOpen(t, to);
  await raw.openChannel(1);
  raw.method(1, { id: MethodId.ConfirmSelect, nowait: false });
  await raw.expectMethod(MethodId.ConfirmSelectOk, 1);
  rawPublish(raw, 1, Buffer.from('bounce'), { exchange: 'amq.direct', routingKey: unique('nowhere'), mandatory: true });
  const ret = await raw.expectMethod(MethodId.BasicReturn, 1);
  t.equal(ret.replyCode, 312, 'basic.return first');
  await rawContent(raw);
  const ack = await raw.expectMethod(MethodId.BasicAck, 1);
  t.equal(ack.deliveryTag, 1, 'then basic.ack for it');
});
