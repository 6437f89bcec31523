import t from 'tap';
import { Encoder } from '../../src/protocol/encoder.js';
import { isFieldTable } from '../../src/protocol/field-value.js';
import { MethodId } from '../../src/protocol/generated/amqp-methods.js';
import { roundTrip } from '../support/broker.js';
import { plainResponse, RawClient, rawScene } from '../support/raw-client.js';

// connection.start → start-ok → tune → tune-ok → open, and what RabbitMQ 3.10 does when it goes wrong.

function amqplainResponse(login: string, password: string): Buffer {
  const e = new Encoder();
  e.table({ LOGIN: login, PASSWORD: password });
  return Buffer.from(e.take().subarray(4)); // AMQPLAIN is a field table without its length prefix
}

t.test('connection.start announces version 0-9, both mechanisms, en_US and the capabilities clients look for', async (t) => {
  const { port } = await rawScene(t);
  const raw = await RawClient.connect(t, port);
  const start = await raw.startHandshake();
  t.equal(start.versionMajor, 0);
  t.equal(start.versionMinor, 9);
  t.same(start.mechanisms.toString().split(' ').sort(), ['AMQPLAIN', 'PLAIN']);
  t.equal(start.locales.toString(), 'en_US');
  const caps = start.serverProperties['capabilities'];
  if (!isFieldTable(caps)) throw new Error('server_properties.capabilities is not a table');
  for (const name of [
    'publisher_confirms',
    'exchange_exchange_bindings',
    'basic.nack',
    'consumer_cancel_notify',
    'connection.blocked',
    'per_consumer_qos',
    'authentication_failure_close',
  ]) {
    t.equal(caps[name], true, `capability ${name}`);
  }
  for (const key of ['product', 'version', 'platform', 'cluster_name']) {
    t.type(start.serverProperties[key], 'string', `server property ${key}`);
  }
});

t.test('connection.tune offers channel_max 2047, frame_max 131072 and heartbeat 60 by default', async (t) => {
  const { port } = await rawScene(t);
  const raw = await RawClient.connect(t, port);
  const { tune } = await raw.handshake();
  t.same({ channelMax: tune.channelMax, frameMax: tune.frameMax, heartbeat: tune.heartbeat }, { channelMax: 2047, frameMax: 131072, heartbeat: 60 });
});

t.test('the tune values come from the broker options', async (t) => {
  const { port } = await rawScene(t, { channelMax: 10, frameMax: 8192, heartbeat: 5 });
  const raw = await RawClient.connect(t, port);
  const { tune } = await raw.handshake();
  t.same({ channelMax: tune.channelMax, frameMax: tune.frameMax, heartbeat: tune.heartbeat }, { channelMax: 10, frameMax: 8192, heartbeat: 5 });
});

t.test('PLAIN and AMQPLAIN logins both open the connection', async (t) => {
  const { port } = await rawScene(t);
  const plain = await RawClient.connect(t, port);
  await plain.handshake({ mechanism: 'PLAIN', response: plainResponse('guest', 'guest') });
  await plain.openChannel(1);
  const amqplain = await RawClient.connect(t, port);
  await amqplain.handshake({ mechanism: 'AMQPLAIN', response: amqplainResponse('guest', 'guest') });
  await amqplain.openChannel(1);
  t.pass('both clients got connection.open-ok and channel.open-ok');
});

t.test('a wrong password is answered with 403 for clients that announce authentication_failure_close', async (t) => {
  const { bystander, port } = await rawScene(t);
  const raw = await RawClient.connect(t, port);
  await raw.startHandshake({ response: plainResponse('guest', 'wrong') });
  const close = await raw.expectClose();
  t.equal(close.replyCode, 403);
  t.match(close.replyText, /^ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN/);
  t.same([close.classId, close.methodId], [0, 0]);
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});

t.test('a wrong password only closes the socket for clients without that capability', async (t) => {
  const { bystander, port } = await rawScene(t);
  const raw = await RawClient.connect(t, port);
  await raw.startHandshake({ response: amqplainResponse('guest', 'wrong'), mechanism: 'AMQPLAIN', clientProperties: { product: 'old client' } });
  await raw.expectSilentClose();
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});

t.test('an unknown mechanism or a malformed response closes the socket without a reply', async (t) => {
  const { bystander, port } = await rawScene(t);
  const unknown = await RawClient.connect(t, port);
  const malformed = await RawClient.connect(t, port);
  await unknown.startHandshake({ mechanism: 'FOO' });
  await malformed.startHandshake({ response: Buffer.from('guest') });
  await Promise.all([unknown.expectSilentClose(), malformed.expectSilentClose()]);
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});

const TUNE_FAILURES: [string, { channelMax?: number; frameMax?: number }, RegExp][] = [
  ['frame_max below 4096', { frameMax: 4095 }, /frame_max = 4095 is lower than the minimum/],
  ['frame_max above the offer', { frameMax: 131073 }, /frame_max = 131073 is higher than the maximum/],
  ['frame_max 0 (no limit)', { frameMax: 0 }, /frame_max = 0 \(no limit\) is higher than the maximum/],
  ['channel_max above the offer', { channelMax: 2048 }, /channel_max = 2048 is higher than the maximum/],
  ['channel_max 0 (no limit)', { channelMax: 0 }, /channel_max = 0 \(no limit\) is higher than the maximum/],
];

// RabbitMQ 3.10 drops these clients silently; later versions explain with 530, as this broker does.
t.test('tune-ok values outside the offer are refused with 530', async (t) => {
  const { bystander, port } = await rawScene(t);
  for (const [what, values, text] of TUNE_FAILURES) {
    const raw = await RawClient.connect(t, port);
    await raw.startHandshake();
    const tune = await raw.expectMethod(MethodId.ConnectionTune);
    raw.method(0, { id: MethodId.ConnectionTuneOk, channelMax: values.channelMax ?? tune.channelMax, frameMax: values.frameMax ?? tune.frameMax, heartbeat: 0 });
    const close = await raw.expectClose();
    t.equal(close.replyCode, 530, what);
    t.match(close.replyText, text, what);
    t.same([close.classId, close.methodId], [10, 30], `${what}: attributed to connection.tune`);
  }
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});

t.test('the smallest frame_max (4096) and a smaller channel_max are accepted', async (t) => {
  const { port } = await rawScene(t);
  const raw = await RawClient.connect(t, port);
  await raw.handshake({ frameMax: 4096, channelMax: 1 });
  await raw.openChannel(1);
  t.pass('connection and channel open');
});

t.test('connection.open of an unknown vhost is 530 NOT_ALLOWED', async (t) => {
  const { bystander, port } = await rawScene(t);
  const raw = await RawClient.connect(t, port);
  await raw.startHandshake();
  const tune = await raw.expectMethod(MethodId.ConnectionTune);
  raw.method(0, { id: MethodId.ConnectionTuneOk, channelMax: tune.channelMax, frameMax: tune.frameMax, heartbeat: 0 });
  raw.method(0, { id: MethodId.ConnectionOpen, virtualHost: '/nope' });
  const close = await raw.expectClose();
  t.equal(close.replyCode, 530);
  t.match(close.replyText, /vhost \/nope not found/);
  t.same([close.classId, close.methodId], [10, 40]);
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});

t.test('methods out of order before tune-ok close the socket without a reply', async (t) => {
  const { bystander, port } = await rawScene(t);
  const openFirst = await RawClient.connect(t, port);
  await openFirst.startHandshake();
  await openFirst.expectMethod(MethodId.ConnectionTune);
  openFirst.method(0, { id: MethodId.ConnectionOpen, virtualHost: '/' });
  const channelFirst = await RawClient.connect(t, port);
  channelFirst.write(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'));
  await channelFirst.expectMethod(MethodId.ConnectionStart);
  channelFirst.method(1, { id: MethodId.ChannelOpen });
  await Promise.all([openFirst.expectSilentClose(), channelFirst.expectSilentClose()]);
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});

t.test('methods out of order after tune-ok are answered with connection.close', async (t) => {
  const { bystander, port } = await rawScene(t);
  const opening = async (): Promise<RawClient> => {
    const raw = await RawClient.connect(t, port);
    await raw.startHandshake();
    await raw.expectMethod(MethodId.ConnectionTune);
    raw.method(0, { id: MethodId.ConnectionTuneOk, channelMax: 2047, frameMax: 131072, heartbeat: 0 });
    return raw;
  };
  const twice = await opening();
  twice.method(0, { id: MethodId.ConnectionTuneOk, channelMax: 2047, frameMax: 131072, heartbeat: 0 });
  const close1 = await twice.expectClose();
  t.same([close1.replyCode, close1.classId, close1.methodId], [504, 10, 31], 'a second tune-ok: 504 CHANNEL_ERROR');

  const early = await opening();
  early.method(1, { id: MethodId.ChannelOpen });
  const close2 = await early.expectClose();
  t.same([close2.replyCode, close2.classId, close2.methodId], [505, 0, 0], 'channel.open before connection.open: 505 UNEXPECTED_FRAME');

  const again = await RawClient.open(t, port);
  again.method(0, { id: MethodId.ConnectionOpen, virtualHost: '/' });
  const close3 = await again.expectClose();
  t.same([close3.replyCode, close3.classId, close3.methodId], [504, 10, 40], 'connection.open once open: 504');
  t.match(close3.replyText, /unexpected method in connection state running/);
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});

t.test('connection.update-secret is accepted once open, as by RabbitMQ with its internal users', async (t) => {
  const { port } = await rawScene(t);
  const raw = await RawClient.open(t, port);
  raw.method(0, { id: MethodId.ConnectionUpdateSecret, newSecret: Buffer.from('guest'), reason: 'rotation' });
  await raw.expectMethod(MethodId.ConnectionUpdateSecretOk);
  await raw.openChannel(1);
  t.pass('the connection stays usable');
});

t.test('connection.update-secret before connection.open is 504', async (t) => {
  const { bystander, port } = await rawScene(t);
  const raw = await RawClient.connect(t, port);
  await raw.startHandshake();
  await raw.expectMethod(MethodId.ConnectionTune);
  raw.method(0, { id: MethodId.ConnectionTuneOk, channelMax: 2047, frameMax: 131072, heartbeat: 0 });
  raw.method(0, { id: MethodId.ConnectionUpdateSecret, newSecret: Buffer.from('guest'), reason: 'early' });
  const close = await raw.expectClose();
  t.same([close.replyCode, close.classId, close.methodId], [504, 10, 70]);
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});
