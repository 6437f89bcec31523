import t from 'tap';
import { MethodId } from '../../src/protocol/generated/amqp-methods.js';
import { roundTrip } from '../support/broker.js';
import { bodyFrame, frameBytes, FrameType, methodFrame, publishMethod, RawClient, rawScene } from '../support/raw-client.js';

// A content header whose property list does not hold together is refused when
// published, as RabbitMQ 3.10 does (connection.close 541; RabbitMQ names no
// method and gives no detail, this broker names basic.publish and says what is
// wrong), never queued: a
// queued one would fail later, when something decodes it (expiry into a
// dead-letter exchange, a delayed exchange, a quorum redelivery), in the
// middle of another client's command.

/** A content header frame for channel 1 with `properties` as the raw property list. */
function rawHeader(bodySize: number, properties: Buffer): Buffer {
  const fixed = Buffer.alloc(12);
  fixed.writeUInt16BE(60, 0);
  fixed.writeUInt32BE(bodySize, 8);
  return frameBytes(FrameType.header, 1, Buffer.concat([fixed, properties]));
}

const MALFORMED: [string, Buffer][] = [
  // message-id (flag 0x0080) says 200 bytes, 2 follow.
  ['a short string longer than the list', Buffer.from([0x00, 0x80, 200, 0x61, 0x62])],
  // headers (flag 0x2000): a table of 10 bytes holding a field of an unknown type.
  ['a field table with an unknown field type', Buffer.from([0x20, 0x00, 0, 0, 0, 10, 1, 0x6b, 0x21, 0, 0, 0, 0, 0, 0, 0])],
  // headers: a table announcing 100 bytes with 4 present.
  ['a field table longer than the list', Buffer.from([0x20, 0x00, 0, 0, 0, 100, 1, 0x6b, 0x74, 1])],
  // timestamp (flag 0x0040) cut after 3 of its 8 bytes.
  ['a timestamp cut short', Buffer.from([0x00, 0x40, 0, 0, 1])],
];

for (const [what, properties] of MALFORMED) {
  t.test(`a publish with ${what} closes the connection with 541 and queues nothing`, async (t) => {
    const scene = await rawScene(t);
    const setup = await scene.bystander.createChannel();
    const { queue } = await setup.assertQueue('', { exclusive: true });
    const raw = await RawClient.open(t, scene.port);
    await raw.openChannel(1);
    raw.write(Buffer.concat([methodFrame(1, publishMethod(queue)), rawHeader(2, properties), bodyFrame(1, Buffer.from('hi'))]));
    const close = await raw.expectClose();
    t.same([close.replyCode, close.classId, close.methodId], [541, 60, 40]);
    t.match(close.replyText, /^INTERNAL_ERROR - cannot decode the message properties/);
    t.equal((await setup.checkQueue(queue)).messageCount, 0, 'nothing was queued');
    t.equal(await roundTrip(scene.bystander), 'ping', 'another connection still works');
  });
}

t.test('a well-formed property list with every kind of field is accepted', async (t) => {
  const scene = await rawScene(t);
  const setup = await scene.bystander.createChannel();
  // Not exclusive: the raw client looks at it too.
  const { queue } = await setup.assertQueue('');
  t.teardown(() => setup.deleteQueue(queue).catch(() => {}));
  const raw = await RawClient.open(t, scene.port);
  await raw.openChannel(1);
  raw.publish(1, queue, Buffer.from('hi'), {
    contentType: 'text/plain',
    headers: { s: 'x', n: 1, list: [1, 'a', { nested: true }], bytes: Buffer.from([1, 2]), nothing: null },
    deliveryMode: 1,
    priority: 3,
    messageId: 'm1',
    timestamp: 1_700_000_000,
    appId: 'raw',
  });
  raw.method(1, { id: MethodId.QueueDeclare, queue, passive: true, durable: false, exclusive: false, autoDelete: false, noWait: false, arguments: {} });
  t.equal((await raw.expectMethod(MethodId.QueueDeclareOk, 1)).messageCount, 1);
  const got = await setup.get(queue, { noAck: true });
  t.ok(got !== false && got.properties.headers?.['list'] !== undefined, 'and delivered with its properties');
});
