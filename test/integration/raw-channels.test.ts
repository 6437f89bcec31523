import t from 'tap';
import { MethodId, type Method } from '../../src/protocol/generated/amqp-methods.js';
import { roundTrip } from '../support/broker.js';
import { bodyFrame, headerFrame, methodFrame, publishMethod, RawClient, rawScene } from '../support/raw-client.js';

// The channel table: which channel numbers may be used, and when, as RabbitMQ 3.10 enforces it.

const DECLARE: Method = { id: MethodId.QueueDeclare, queue: '', passive: false, durable: false, exclusive: true, autoDelete: false, noWait: false, arguments: {} };
const CLOSE: Method = { id: MethodId.ChannelClose, replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 };

t.test('a method on a channel that was never opened is 504, naming the method', async (t) => {
  const { bystander, port } = await rawScene(t);
  const cases: [Method, number, number][] = [
    [DECLARE, 50, 10],
    [CLOSE, 20, 40],
    [{ id: MethodId.ChannelCloseOk }, 20, 41],
  ];
  for (const [method, classId, methodId] of cases) {
    const raw = await RawClient.open(t, port);
    raw.method(5, method);
    const close = await raw.expectClose();
    t.same([close.replyCode, close.classId, close.methodId], [504, classId, methodId]);
    t.match(close.replyText, /expected 'channel.open'/);
  }
  const publish = await RawClient.open(t, port);
  publish.write(Buffer.concat([methodFrame(5, publishMethod('q')), headerFrame(5, 2), bodyFrame(5, Buffer.from('hi'))]));
  const close = await publish.expectClose();
  t.same([close.replyCode, close.classId, close.methodId], [504, 60, 40], 'a whole publish on an unopened channel');
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});

t.test('a content frame on a channel that was never opened is 505', async (t) => {
  const { bystander, port } = await rawScene(t);
  const raw = await RawClient.open(t, port);
  raw.write(headerFrame(3, 5));
  const close = await raw.expectClose();
  t.same([close.replyCode, close.classId, close.methodId], [505, 0, 0]);
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});

t.test('a method on a channel the client closed is 504', async (t) => {
  const { bystander, port } = await rawScene(t);
  const raw = await RawClient.open(t, port);
  await raw.openChannel(1);
  raw.method(1, CLOSE);
  await raw.expectMethod(MethodId.ChannelCloseOk, 1);
  raw.method(1, DECLARE);
  const close = await raw.expectClose();
  t.same([close.replyCode, close.classId, close.methodId], [504, 50, 10]);
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});

t.test('channel.open on an open channel is 504', async (t) => {
  const { bystander, port } = await rawScene(t);
  const raw = await RawClient.open(t, port);
  await raw.openChannel(1);
  raw.method(1, { id: MethodId.ChannelOpen });
  const close = await raw.expectClose();
  t.same([close.replyCode, close.classId, close.methodId], [504, 20, 10]);
  t.match(close.replyText, /second 'channel.open' seen/);
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});

t.test('channel.close-ok on a channel the broker did not close is 503', async (t) => {
  const { bystander, port } = await rawScene(t);
  const raw = await RawClient.open(t, port);
  await raw.openChannel(1);
  raw.method(1, { id: MethodId.ChannelCloseOk });
  const close = await raw.expectClose();
  t.same([close.replyCode, close.classId, close.methodId], [503, 20, 41]);
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});

t.test('channel_max caps how many channels are open, not the channel numbers', async (t) => {
  const { bystander, port } = await rawScene(t);
  const numbers = await RawClient.open(t, port, { channelMax: 10 });
  for (const n of [11, 2048, 65535]) await numbers.openChannel(n);
  t.pass('channels 11, 2048 and 65535 open with channel_max 10');

  const raw = await RawClient.open(t, port, { channelMax: 2 });
  await raw.openChannel(1);
  await raw.openChannel(2);
  raw.method(2, CLOSE);
  await raw.expectMethod(MethodId.ChannelCloseOk, 2);
  await raw.openChannel(700);
  t.pass('closing a channel frees its slot');
  raw.method(3, { id: MethodId.ChannelOpen });
  const close = await raw.expectClose();
  t.same([close.replyCode, close.classId, close.methodId], [530, 0, 0]);
  t.match(close.replyText, /number of channels opened \(2\) has reached the negotiated channel_max \(2\)/);
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});

t.test('channel methods on channel 0 are 504', async (t) => {
  const { bystander, port } = await rawScene(t);
  const cases: [Method, number, number][] = [
    [{ id: MethodId.ChannelOpen }, 20, 10],
    [DECLARE, 50, 10],
    [publishMethod('q'), 60, 40],
  ];
  for (const [method, classId, methodId] of cases) {
    const raw = await RawClient.open(t, port);
    raw.method(0, method);
    const close = await raw.expectClose();
    t.same([close.replyCode, close.classId, close.methodId], [504, classId, methodId]);
    t.match(close.replyText, /unexpected method in connection state running/);
  }
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});

t.test('connection methods on a channel other than 0 are 503', async (t) => {
  const { bystander, port } = await rawScene(t);
  const raw = await RawClient.open(t, port);
  await raw.openChannel(1);
  raw.method(1, { id: MethodId.ConnectionOpen, virtualHost: '/' });
  const close = await raw.expectClose();
  t.same([close.replyCode, close.classId, close.methodId], [503, 10, 40]);
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});

t.test('connection methods only a server sends are 504 from a client', async (t) => {
  const { bystander, port } = await rawScene(t);
  const cases: [Method, number][] = [
    [{ id: MethodId.ConnectionBlocked, reason: 'x' }, 60],
    [{ id: MethodId.ConnectionCloseOk }, 51],
    [{ id: MethodId.ConnectionSecureOk, response: Buffer.from('x') }, 21],
  ];
  for (const [method, methodId] of cases) {
    const raw = await RawClient.open(t, port);
    raw.method(0, method);
    const close = await raw.expectClose();
    t.same([close.replyCode, close.classId, close.methodId], [504, 10, methodId]);
  }
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});

t.test('after the broker closes a channel, its frames are dropped until close-ok; then it can be reopened', async (t) => {
  const { port } = await rawScene(t);
  const raw = await RawClient.open(t, port);
  await raw.openChannel(1);
  raw.method(1, { id: MethodId.BasicAck, deliveryTag: 99, multiple: false });
  const close = await raw.expectMethod(MethodId.ChannelClose, 1);
  t.same([close.replyCode, close.classId, close.methodId], [406, 60, 80]);
  raw.method(1, DECLARE);
  raw.write(Buffer.concat([methodFrame(1, publishMethod('q')), headerFrame(1, 2), bodyFrame(1, Buffer.from('hi'))]));
  t.ok(await raw.quietFor(300), 'no reply to frames on the closing channel');
  raw.method(1, { id: MethodId.ChannelCloseOk });
  await raw.openChannel(1);
  raw.method(1, DECLARE);
  await raw.expectMethod(MethodId.QueueDeclareOk, 1);
});
