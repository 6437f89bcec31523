import t, { type Test } from 'tap';
import { MAX_TABLE_DEPTH } from '../../src/protocol/decoder.js';
import type { FieldTable } from '../../src/protocol/field-value.js';
import { MethodId, type Method } from '../../src/protocol/generated/amqp-methods.js';
import { roundTrip } from '../support/broker.js';
import {
  bodyFrame,
  frameBytes,
  FrameType,
  headerFrame,
  methodFrame,
  methodPayload,
  PROTOCOL_HEADER,
  publishMethod,
  RawClient,
  rawScene,
} from '../support/raw-client.js';

// Frames the broker cannot make sense of: each closes the connection with the code RabbitMQ 3.10
// uses, and leaves every other connection alone.

function declare(args: FieldTable = {}, queue = '', passive = false): Method {
  return { id: MethodId.QueueDeclare, queue, passive, durable: false, exclusive: true, autoDelete: false, noWait: false, arguments: args };
}

function nested(depth: number): FieldTable {
  let table: FieldTable = {};
  for (let i = 1; i < depth; i++) table = { n: table };
  return table;
}

/** Expects connection.close with this code and class/method ids, and the bystander to keep working. */
async function closesWith(t: Test, raw: RawClient, bystander: Parameters<typeof roundTrip>[0], expected: [number, number, number]): Promise<string> {
  const close = await raw.expectClose();
  t.same([close.replyCode, close.classId, close.methodId], expected, `connection.close ${expected.join(' ')}`);
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
  return close.replyText;
}

t.test('an unknown frame type is 501 FRAME_ERROR, not attributed to any method', async (t) => {
  const { bystander, port } = await rawScene(t);
  const raw = await RawClient.open(t, port);
  await raw.openChannel(1);
  raw.method(1, declare());
  await raw.expectMethod(MethodId.QueueDeclareOk, 1);
  raw.write(frameBytes(9, 1, Buffer.from('abc')));
  t.match(await closesWith(t, raw, bystander, [501, 0, 0]), /^FRAME_ERROR/);
});

t.test('a wrong frame-end octet is 501 FRAME_ERROR', async (t) => {
  const { bystander, port } = await rawScene(t);
  const raw = await RawClient.open(t, port);
  raw.write(frameBytes(FrameType.method, 1, methodPayload({ id: MethodId.ChannelOpen }), 0x00));
  await closesWith(t, raw, bystander, [501, 0, 0]);
  const heartbeat = await RawClient.open(t, port);
  heartbeat.write(frameBytes(FrameType.heartbeat, 0, Buffer.alloc(0), 0xcd));
  await closesWith(t, heartbeat, bystander, [501, 0, 0]);
});

t.test('before tune-ok a frame above 4096 bytes of payload is refused without a reply', async (t) => {
  const { bystander, port } = await rawScene(t);
  const raw = await RawClient.connect(t, port);
  raw.write(PROTOCOL_HEADER);
  await raw.expectMethod(MethodId.ConnectionStart);
  raw.write(frameBytes(FrameType.method, 0, Buffer.alloc(4097)));
  await raw.expectSilentClose();
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});

t.test('before tune-ok a start-ok of exactly 4096 bytes of payload is accepted, as RabbitMQ allows', async (t) => {
  const { port } = await rawScene(t);
  const raw = await RawClient.connect(t, port);
  raw.write(PROTOCOL_HEADER);
  await raw.expectMethod(MethodId.ConnectionStart);
  const startOk = (pad: number): Method => ({
    id: MethodId.ConnectionStartOk,
    clientProperties: { product: 'raw-client', pad: 'x'.repeat(pad) },
    mechanism: 'PLAIN',
    response: Buffer.from('\0guest\0guest'),
    locale: 'en_US',
  });
  const pad = 4096 - methodPayload(startOk(0)).length;
  t.equal(methodPayload(startOk(pad)).length, 4096);
  raw.method(0, startOk(pad));
  await raw.expectMethod(MethodId.ConnectionTune);
});

t.test('after tune-ok a frame above the negotiated frame_max is 501; frame_max itself is fine', async (t) => {
  const { bystander, port } = await rawScene(t);
  const raw = await RawClient.open(t, port, { frameMax: 4096 });
  await raw.openChannel(1);
  raw.method(1, declare());
  const { queue } = await raw.expectMethod(MethodId.QueueDeclareOk, 1);
  // RabbitMQ lets the payload reach frame_max (8 bytes over the spec's limit): some clients count it that way.
  raw.write(Buffer.concat([methodFrame(1, publishMethod(queue)), headerFrame(1, 4096), bodyFrame(1, Buffer.alloc(4096, 1))]));
  raw.method(1, declare({}, queue, true));
  const ok = await raw.expectMethod(MethodId.QueueDeclareOk, 1);
  t.equal(ok.messageCount, 1, 'the 4096-byte body frame was accepted');
  raw.write(Buffer.concat([methodFrame(1, publishMethod(queue)), headerFrame(1, 4097), bodyFrame(1, Buffer.alloc(4097, 1))]));
  t.match(await closesWith(t, raw, bystander, [501, 0, 0]), /^FRAME_ERROR/);
});

t.test('a method frame above the default frame_max of 131072 is 501', async (t) => {
  const { bystander, port } = await rawScene(t);
  const raw = await RawClient.open(t, port);
  await raw.openChannel(1);
  raw.method(1, declare({ big: 'x'.repeat(131072) }));
  await closesWith(t, raw, bystander, [501, 0, 0]);
});

t.test('a heartbeat on a channel other than 0 is 505, a heartbeat with a payload 501', async (t) => {
  const { bystander, port } = await rawScene(t);
  const onChannel = await RawClient.open(t, port);
  await onChannel.openChannel(1);
  onChannel.write(frameBytes(FrameType.heartbeat, 1, Buffer.alloc(0)));
  await closesWith(t, onChannel, bystander, [505, 0, 0]);
  const withPayload = await RawClient.open(t, port);
  withPayload.write(frameBytes(FrameType.heartbeat, 0, Buffer.alloc(4)));
  await closesWith(t, withPayload, bystander, [501, 0, 0]);
});

t.test('an unknown class or method is 540 NOT_IMPLEMENTED (RabbitMQ drops the socket without a reply)', async (t) => {
  const { bystander, port } = await rawScene(t);
  const unknown: [number, number, number][] = [
    [1, 99, 10],
    [1, 60, 99],
    [0, 10, 99],
  ];
  for (const [channel, classId, methodId] of unknown) {
    const raw = await RawClient.open(t, port);
    await raw.openChannel(1);
    const payload = Buffer.alloc(4);
    payload.writeUInt16BE(classId, 0);
    payload.writeUInt16BE(methodId, 2);
    raw.write(frameBytes(FrameType.method, channel, payload));
    await closesWith(t, raw, bystander, [540, classId, methodId]);
  }
});

t.test('method arguments cut short or followed by extra bytes are 501, attributed to the method', async (t) => {
  const { bystander, port } = await rawScene(t);
  const full = methodPayload(declare());
  const payloads: [string, number, Buffer, [number, number, number]][] = [
    ['queue.declare cut inside its arguments', 1, full.subarray(0, full.length - 3), [501, 50, 10]],
    ['queue.declare with 5 bytes too many', 1, Buffer.concat([full, Buffer.alloc(5, 0x5a)]), [501, 50, 10]],
    ['channel.open without its reserved argument', 2, methodPayload({ id: MethodId.ChannelOpen }).subarray(0, 4), [501, 20, 10]],
    ['a method frame too short for a method id', 1, Buffer.from([0, 50]), [501, 0, 0]],
    // RabbitMQ 3.10 answers this one with 541 INTERNAL_ERROR.
    ['connection.close cut short on channel 0', 0, methodPayload({ id: MethodId.ConnectionClose, replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 }).subarray(0, 7), [501, 10, 50]],
  ];
  for (const [what, channel, payload, expected] of payloads) {
    const raw = await RawClient.open(t, port);
    await raw.openChannel(1);
    raw.write(frameBytes(FrameType.method, channel, payload));
    t.comment(what);
    await closesWith(t, raw, bystander, expected);
  }
});

// RabbitMQ has no depth limit; this broker's recursion has one.
t.test(`field tables nested deeper than ${MAX_TABLE_DEPTH} levels are 501; 200 levels are fine`, async (t) => {
  const { bystander, port } = await rawScene(t);
  const raw = await RawClient.open(t, port);
  await raw.openChannel(1);
  raw.method(1, declare({ deep: nested(200) }));
  await raw.expectMethod(MethodId.QueueDeclareOk, 1);
  raw.method(1, declare({ deep: nested(MAX_TABLE_DEPTH + 1) }));
  t.match(await closesWith(t, raw, bystander, [501, 50, 10]), /nested deeper/);
  const arrays = await RawClient.open(t, port);
  await arrays.openChannel(1);
  let deepArray: FieldTable[keyof FieldTable] = [];
  for (let i = 0; i < MAX_TABLE_DEPTH + 1; i++) deepArray = [deepArray];
  arrays.method(1, declare({ deep: deepArray }));
  await closesWith(t, arrays, bystander, [501, 50, 10]);
});

t.test('a field table value of an unknown type is 501 (RabbitMQ drops the socket without a reply)', async (t) => {
  const { bystander, port } = await rawScene(t);
  const raw = await RawClient.open(t, port);
  await raw.openChannel(1);
  const payload = methodPayload(declare({ k: 1 }));
  // The last value's type tag sits 5 bytes from the end ('I' then an int32): make it 'Z'.
  payload[payload.length - 5] = 'Z'.charCodeAt(0);
  raw.write(frameBytes(FrameType.method, 1, payload));
  await closesWith(t, raw, bystander, [501, 50, 10]);
});
