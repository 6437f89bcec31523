import t from 'tap';
import { MethodId } from '../../src/protocol/generated/amqp-methods.js';
import { delay, roundTrip } from '../support/broker.js';
import { PROTOCOL_HEADER, RawClient, rawScene } from '../support/raw-client.js';

// What the broker answers to the 8 bytes a client opens with, checked against RabbitMQ 3.10.

const REFUSED_HEADERS: Record<string, Buffer> = {
  'a newer revision (AMQP 0-9-2)': Buffer.from('AMQP\x00\x00\x09\x02', 'latin1'),
  // RabbitMQ still speaks 0-8 to these clients; this broker only speaks 0-9-1 and says so.
  'AMQP 0-8 (a deliberate difference from RabbitMQ)': Buffer.from('AMQP\x01\x01\x08\x00', 'latin1'),
  'AMQP 1.0': Buffer.from('AMQP\x00\x01\x00\x00', 'latin1'),
  'an HTTP request': Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
  'eight bytes of garbage': Buffer.from('HTTP/1.1'),
};

for (const [what, header] of Object.entries(REFUSED_HEADERS)) {
  t.test(`${what}: the broker answers with the header it speaks and closes`, async (t) => {
    const { bystander, port } = await rawScene(t);
    const raw = await RawClient.connect(t, port);
    raw.write(header);
    await raw.waitClosed();
    t.same(raw.received(), PROTOCOL_HEADER, 'exactly "AMQP" 0 0 9 1 comes back, nothing else');
    t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
  });
}

t.test('the protocol header split across writes still starts the handshake', async (t) => {
  const { bystander, port } = await rawScene(t);
  const raw = await RawClient.connect(t, port);
  raw.write(PROTOCOL_HEADER.subarray(0, 4));
  await delay(100);
  for (const byte of PROTOCOL_HEADER.subarray(4)) {
    raw.write(Buffer.from([byte]));
    await delay(20);
  }
  const start = await raw.expectMethod(MethodId.ConnectionStart);
  t.equal(start.versionMajor, 0);
  t.equal(start.versionMinor, 9);
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});

t.test("AMQP 0-9's header is accepted as 0-9-1, as RabbitMQ does", async (t) => {
  const { port } = await rawScene(t);
  const raw = await RawClient.connect(t, port);
  raw.write(Buffer.from('AMQP\x01\x01\x00\x09', 'latin1'));
  const start = await raw.expectMethod(MethodId.ConnectionStart);
  t.equal(`${start.versionMajor}-${start.versionMinor}`, '0-9');
});

t.test('garbage right after a good header is refused without a reply, after a delay', async (t) => {
  const { bystander, port } = await rawScene(t);
  const raw = await RawClient.connect(t, port);
  // Read as a frame header, "xxxxxxx" announces a payload far above 4096 bytes.
  raw.write(Buffer.concat([PROTOCOL_HEADER, Buffer.from('xxxxxxxx')]));
  await raw.expectMethod(MethodId.ConnectionStart);
  await raw.expectSilentClose();
  t.pass('the socket closed with no connection.close: the client is not trusted before tune-ok');
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});

t.test('a client that hangs up in the middle of the header leaves the broker serving others', async (t) => {
  const { bystander, port } = await rawScene(t);
  const raw = await RawClient.connect(t, port);
  raw.write(PROTOCOL_HEADER.subarray(0, 5));
  await delay(50);
  raw.destroy();
  await delay(50);
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});
