import t from 'tap';
import { MethodId, type Method } from '../../src/protocol/generated/amqp-methods.js';
import type { RawClient } from '../../test/support/raw-client.js';
import { rawOpen, rawPublish, session, target, unique } from './support.js';

// The channel class: open, flow and close.

const declare = (queue: string, passive = false): Method => ({
  id: MethodId.QueueDeclare,
  queue,
  passive,
  durable: false,
  exclusive: true,
  autoDelete: false,
  noWait: false,
  arguments: {},
});

/** Skips content and other methods until `id` arrives on `channel`; fails after `maxFrames` frames. */
async function skipTo(raw: RawClient, id: Method['id'], channel: number, maxFrames: number): Promise<Method> {
  for (let i = 0; i < maxFrames; i++) {
    const got = await raw.next();
    if (got.method?.id === id && got.channel === channel) return got.method;
  }
  throw new Error(`no method ${id} on channel ${channel} within ${maxFrames} frames`);
}

t.test('[channel.open/state] channel.open on a channel that is already open is a connection error 504', async (t) => {
  const to = await target(t);
  const raw = await rawOpen(t, to);
  await raw.openChannel(1);
  raw.method(1, { id: MethodId.ChannelOpen });
  const close = await raw.expectClose();
  t.equal(close.replyCode, 504);
  t.same([close.classId, close.methodId], [20, 10], 'names channel.open');
});

t.test('[channel.flow/initial-state] a new channel is active: it delivers without any channel.flow, and flow(true) confirms it', async (t) => {
  const to = await target(t);
  const raw = await rawOpen(t, to);
  await raw.openChannel(1);
  const queue = unique('flow-initial');
  raw.method(1, declare(queue));
  await raw.expectMethod(MethodId.QueueDeclareOk, 1);
  rawPublish(raw, 1, Buffer.from('first'), { routingKey: queue });
  raw.method(1, { id: MethodId.BasicConsume, queue, consumerTag: 'c', noLocal: false, noAck: true, exclusive: false, noWait: false, arguments: {} });
  await raw.expectMethod(MethodId.BasicConsumeOk, 1);
  await raw.expectMethod(MethodId.BasicDeliver, 1);
  t.pass('delivered on a fresh channel');
  raw.method(1, { id: MethodId.ChannelFlow, active: true });
  await skipTo(raw, MethodId.ChannelFlowOk, 1, 10);
  t.pass('flow(active=true) answered with flow-ok');
});

t.test('[channel.flow/bidirectional] channel.flow is answered while the broker is busy sending content', async (t) => {
  const to = await target(t);
  const { channel } = await session(t, to);
  const { queue } = await channel.assertQueue(unique('flow-busy'), { autoDelete: true });
  const body = Buffer.alloc(1024, 1);
  for (let i = 0; i < 2000; i++) channel.sendToQueue(queue, body);
  await channel.checkQueue(queue);
  const raw = await rawOpen(t, to);
  await raw.openChannel(1);
  raw.method(1, { id: MethodId.BasicConsume, queue, consumerTag: 'c', noLocal: false, noAck: true, exclusive: false, noWait: false, arguments: {} });
  await raw.expectMethod(MethodId.BasicConsumeOk, 1);
  await raw.expectMethod(MethodId.BasicDeliver, 1);
  raw.method(1, { id: MethodId.ChannelFlow, active: true });
  const ok = await skipTo(raw, MethodId.ChannelFlowOk, 1, 3 * 2000 + 10);
  t.same(ok, { id: MethodId.ChannelFlowOk, active: true }, 'flow-ok arrives among the deliveries');
});

t.test('[channel.flow/throttling] a client asking the broker to stop sending (flow active=false) is refused with 540, as in RabbitMQ', async (t) => {
  const to = await target(t);
  const raw = await rawOpen(t, to);
  await raw.openChannel(1);
  raw.method(1, { id: MethodId.ChannelFlow, active: false });
  const close = await raw.expectClose();
  t.equal(close.replyCode, 540);
  t.same([close.classId, close.methodId], [20, 20], 'names channel.flow');
});

t.test('[channel.close/stability] after the broker closes a channel it discards that channel\'s methods until close-ok', async (t) => {
  const to = await target(t);
  const raw = await rawOpen(t, to);
  await raw.openChannel(1);
  raw.method(1, declare(unique('missing'), true));
  const close = await raw.expectMethod(MethodId.ChannelClose, 1);
  t.equal(close.replyCode, 404, 'a passive declare of a missing queue closes the channel');
  raw.method(1, declare(unique('ignored')));
  t.ok(await raw.quietFor(300), 'queue.declare on the closing channel gets no reply');
  raw.method(1, { id: MethodId.ChannelCloseOk });
  await raw.openChannel(1);
  t.pass('after close-ok the channel number opens again');
});

t.test('[channel.close/stability] a channel.close crossing the broker\'s channel.close is answered with close-ok', async (t) => {
  const to = await target(t);
  const raw = await rawOpen(t, to);
  await raw.openChannel(1);
  raw.method(1, declare(unique('missing'), true));
  await raw.expectMethod(MethodId.ChannelClose, 1);
  raw.method(1, { id: MethodId.ChannelClose, replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 });
  await raw.expectMethod(MethodId.ChannelCloseOk, 1);
  t.pass('close-ok');
  // The broker still waits for the answer to its own close before the number is free again.
  raw.method(1, { id: MethodId.ChannelCloseOk });
  await raw.openChannel(1);
  t.pass('after the client\'s close-ok the channel number opens again');
});

t.test('[channel.close/stability] a client channel.close is answered with close-ok even while deliveries flow', async (t) => {
  const to = await target(t);
  const raw = await rawOpen(t, to);
  await raw.openChannel(1);
  const queue = unique('close-busy');
  raw.method(1, declare(queue));
  await raw.expectMethod(MethodId.QueueDeclareOk, 1);
  for (let i = 0; i < 200; i++) rawPublish(raw, 1, Buffer.alloc(512), { routingKey: queue });
  raw.method(1, { id: MethodId.BasicConsume, queue, consumerTag: 'c', noLocal: false, noAck: false, exclusive: false, noWait: false, arguments: {} });
  raw.method(1, { id: MethodId.ChannelClose, replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 });
  await skipTo(raw, MethodId.ChannelCloseOk, 1, 3 * 200 + 10);
  raw.method(1, { id: MethodId.ChannelOpen });
  await skipTo(raw, MethodId.ChannelOpenOk, 1, 5);
  t.pass('close-ok, and the channel number opens again');
});
