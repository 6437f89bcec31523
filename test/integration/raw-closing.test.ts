import t from 'tap';
import { MethodId, type Method } from '../../src/protocol/generated/amqp-methods.js';
import { roundTrip } from '../support/broker.js';
import { RawClient, rawScene } from '../support/raw-client.js';

// Closing handshakes as RabbitMQ 3.10 runs them. amqp091-go's integration suite relies on
// both: a channel.close that crosses the broker's, and several connection.close at once.

const MISSING_QUEUE: Method = { id: MethodId.QueueDeclare, queue: 'raw-closing-missing', passive: true, durable: false, exclusive: false, autoDelete: false, noWait: false, arguments: {} };
const DECLARE: Method = { id: MethodId.QueueDeclare, queue: '', passive: false, durable: false, exclusive: true, autoDelete: false, noWait: false, arguments: {} };
const CHANNEL_CLOSE: Method = { id: MethodId.ChannelClose, replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 };
const CONNECTION_CLOSE: Method = { id: MethodId.ConnectionClose, replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 };

t.test('a channel.close crossing the broker’s is answered; the number is free once the client sends close-ok', async (t) => {
  const { bystander, port } = await rawScene(t);
  const raw = await RawClient.open(t, port);
  await raw.openChannel(1);
  raw.method(1, MISSING_QUEUE);
  const close = await raw.expectMethod(MethodId.ChannelClose, 1);
  t.equal(close.replyCode, 404);
  raw.method(1, CHANNEL_CLOSE);
  await raw.expectMethod(MethodId.ChannelCloseOk, 1);
  raw.method(1, { id: MethodId.ChannelCloseOk });
  await raw.openChannel(1);
  raw.method(1, DECLARE);
  await raw.expectMethod(MethodId.QueueDeclareOk, 1);
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});

t.test('channel.open on a channel the broker is closing is 504', async (t) => {
  const { port } = await rawScene(t);
  const raw = await RawClient.open(t, port);
  await raw.openChannel(1);
  raw.method(1, MISSING_QUEUE);
  await raw.expectMethod(MethodId.ChannelClose, 1);
  raw.method(1, CHANNEL_CLOSE);
  await raw.expectMethod(MethodId.ChannelCloseOk, 1);
  raw.method(1, { id: MethodId.ChannelOpen });
  const refused = await raw.expectClose();
  t.same([refused.replyCode, refused.classId, refused.methodId], [504, 20, 10]);
  t.match(refused.replyText, /second 'channel.open' seen/);
});

t.test('after connection.close-ok the socket waits for the client to hang up, answering every further close', async (t) => {
  const { port } = await rawScene(t);
  const raw = await RawClient.open(t, port, { heartbeat: 0 });
  await raw.openChannel(1);
  raw.method(0, CONNECTION_CLOSE);
  raw.method(0, CONNECTION_CLOSE);
  await raw.expectMethod(MethodId.ConnectionCloseOk);
  await raw.expectMethod(MethodId.ConnectionCloseOk);
  raw.method(1, DECLARE);
  t.ok(await raw.quietFor(300), 'still connected, and frames on channels are ignored');
  raw.method(0, CONNECTION_CLOSE);
  await raw.expectMethod(MethodId.ConnectionCloseOk);
});

t.test('exclusive queues are gone by the time connection.close-ok arrives', async (t) => {
  const { bystander, port } = await rawScene(t);
  const raw = await RawClient.open(t, port, { heartbeat: 0 });
  await raw.openChannel(1);
  raw.method(1, { ...DECLARE, queue: 'raw-closing-exclusive' } as Method);
  await raw.expectMethod(MethodId.QueueDeclareOk, 1);
  raw.method(0, CONNECTION_CLOSE);
  await raw.expectMethod(MethodId.ConnectionCloseOk);
  const channel = await bystander.createChannel();
  const ok = await channel.assertQueue('raw-closing-exclusive', { exclusive: true });
  t.equal(ok.queue, 'raw-closing-exclusive', 'the name can be declared again by another connection');
});

t.test('a client that never hangs up after close-ok is dropped after its heartbeat timeout', async (t) => {
  const { port } = await rawScene(t);
  const raw = await RawClient.open(t, port, { heartbeat: 1 });
  raw.method(0, CONNECTION_CLOSE);
  await raw.expectMethod(MethodId.ConnectionCloseOk);
  await raw.waitClosed(6000);
  t.ok(raw.closed, 'the broker closed the socket');
});
