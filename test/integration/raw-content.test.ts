import t, { type Test } from 'tap';
import type { FieldTable } from '../../src/protocol/field-value.js';
import { MethodId, type Method } from '../../src/protocol/generated/amqp-methods.js';
import { roundTrip } from '../support/broker.js';
import { bodyFrame, headerFrame, heartbeatFrame, methodFrame, publishMethod, RawClient, rawScene, type RawScene } from '../support/raw-client.js';

// Content frames (header and body) out of place: RabbitMQ 3.10 answers all of these with
// 505 UNEXPECTED_FRAME on the connection, naming the content method when there is one.

function declare(queue = '', passive = false, args: FieldTable = {}): Method {
  return { id: MethodId.QueueDeclare, queue, passive, durable: false, exclusive: !passive, autoDelete: false, noWait: false, arguments: args };
}

/** A raw client with channel 1 open and a queue of its own on it. */
async function publisher(t: Test, scene: RawScene): Promise<{ raw: RawClient; queue: string }> {
  const raw = await RawClient.open(t, scene.port);
  await raw.openChannel(1);
  raw.method(1, declare());
  const { queue } = await raw.expectMethod(MethodId.QueueDeclareOk, 1);
  return { raw, queue };
}

async function messageCount(raw: RawClient, queue: string): Promise<number> {
  raw.method(1, declare(queue, true));
  return (await raw.expectMethod(MethodId.QueueDeclareOk, 1)).messageCount;
}

const BAD_SEQUENCES: [string, (queue: string) => Buffer[], [number, number, number]][] = [
  ['a content header with no method before it', () => [headerFrame(1, 5)], [505, 0, 0]],
  ['a body frame with no method before it', () => [bodyFrame(1, Buffer.from('hello'))], [505, 0, 0]],
  ['a body frame after a complete empty message', (q) => [methodFrame(1, publishMethod(q)), headerFrame(1, 0), bodyFrame(1, Buffer.from('abc'))], [505, 0, 0]],
  ['basic.publish followed by a body frame', (q) => [methodFrame(1, publishMethod(q)), bodyFrame(1, Buffer.from('hello'))], [505, 60, 40]],
  ['basic.publish followed by a content header of class queue', (q) => [methodFrame(1, publishMethod(q)), headerFrame(1, 5, {}, 50)], [505, 60, 40]],
  ['basic.publish followed by another basic.publish', (q) => [methodFrame(1, publishMethod(q)), methodFrame(1, publishMethod(q))], [505, 60, 40]],
  ['a method frame while the body is expected', (q) => [methodFrame(1, publishMethod(q)), headerFrame(1, 10), methodFrame(1, declare())], [505, 60, 40]],
  ['a second content header while the body is expected', (q) => [methodFrame(1, publishMethod(q)), headerFrame(1, 10), headerFrame(1, 10)], [505, 60, 40]],
  [
    'channel.close while the body is expected',
    (q) => [methodFrame(1, publishMethod(q)), headerFrame(1, 10), methodFrame(1, { id: MethodId.ChannelClose, replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 })],
    [505, 60, 40],
  ],
  // RabbitMQ keeps waiting for a body that can never complete and fails at the next frame.
  ['a body larger than its header announced', (q) => [methodFrame(1, publishMethod(q)), headerFrame(1, 5), bodyFrame(1, Buffer.alloc(10))], [505, 60, 40]],
  ['two body frames adding up to more than announced', (q) => [methodFrame(1, publishMethod(q)), headerFrame(1, 5), bodyFrame(1, Buffer.alloc(3)), bodyFrame(1, Buffer.alloc(3))], [505, 60, 40]],
  ['a content header on channel 0', () => [headerFrame(0, 5)], [505, 0, 0]],
  ['a body frame on channel 0', () => [bodyFrame(0, Buffer.from('hello'))], [505, 0, 0]],
];

for (const [what, frames, expected] of BAD_SEQUENCES) {
  t.test(`${what}: connection.close ${expected.join(' ')}`, async (t) => {
    const scene = await rawScene(t);
    const { raw, queue } = await publisher(t, scene);
    raw.write(Buffer.concat(frames(queue)));
    const close = await raw.expectClose();
    t.same([close.replyCode, close.classId, close.methodId], expected);
    t.equal(await roundTrip(scene.bystander), 'ping', 'another connection still works');
  });
}

t.test('content split over frames, interleaved with heartbeats and other channels, arrives whole', async (t) => {
  const scene = await rawScene(t);
  const { raw, queue } = await publisher(t, scene);
  await raw.openChannel(2);
  raw.write(Buffer.concat([methodFrame(1, publishMethod(queue)), headerFrame(1, 10), bodyFrame(1, Buffer.alloc(0)), bodyFrame(1, Buffer.from('hello'))]));
  raw.write(heartbeatFrame());
  raw.method(2, declare());
  await raw.expectMethod(MethodId.QueueDeclareOk, 2);
  raw.write(bodyFrame(1, Buffer.from('world')));
  t.equal(await messageCount(raw, queue), 1, 'the message is queued');
  raw.method(1, { id: MethodId.BasicGet, queue, noAck: true });
  await raw.expectMethod(MethodId.BasicGetOk, 1);
  const header = await raw.nextFrame();
  const body = await raw.nextFrame();
  t.equal(header.payload.readUInt32BE(8), 10, 'body size 10 in the delivered header');
  t.equal(body.payload.toString(), 'helloworld');
});

t.test('a message above the maximum message size closes its channel with 406; the connection stays', async (t) => {
  const scene = await rawScene(t, { maxMessageSize: 1024 });
  const { raw, queue } = await publisher(t, scene);
  raw.publish(1, queue, Buffer.alloc(1024, 1));
  t.equal(await messageCount(raw, queue), 1, 'exactly the maximum is accepted');
  raw.publish(1, queue, Buffer.alloc(1025, 1));
  const close = await raw.expectChannelClose(1);
  t.same([close.replyCode, close.classId, close.methodId], [406, 60, 40]);
  t.match(close.replyText, /message size 1025 is larger than configured max size 1024/);
  await raw.openChannel(2);
  raw.method(2, declare(queue, true));
  const ok = await raw.expectMethod(MethodId.QueueDeclareOk, 2);
  t.equal(ok.messageCount, 1, 'the connection still works and the big message was not queued');
  t.equal(await roundTrip(scene.bystander), 'ping', 'another connection still works');
});
