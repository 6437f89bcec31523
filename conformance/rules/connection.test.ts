import t, { type Test } from 'tap';
import { Decoder } from '../../src/protocol/decoder.js';
import { Encoder } from '../../src/protocol/encoder.js';
import { decodeMethod, MethodId } from '../../src/protocol/generated/amqp-methods.js';
import { roundTrip } from '../../test/support/broker.js';
import { CLIENT_CAPABILITIES, frameBytes, FrameType, methodPayload, plainResponse, PROTOCOL_HEADER, RawClient } from '../../test/support/raw-client.js';
import { open, rawContent, rawOpen, rawPublish, target, unique } from './support.js';

// The connection class: protocol header, start, tune, open and close.

const VALID_HEADER = PROTOCOL_HEADER.toString('latin1');

t.test('[connection.start/protocol-name] a header that is not AMQP gets the supported header back and the socket closed', async (t) => {
  const to = await target(t);
  for (const header of ['HTTP/1.1', 'GET / HTTP/1.1\r\n\r\n']) {
    const raw = await RawClient.connect(t, to.port);
    raw.write(Buffer.from(header, 'latin1'));
    await raw.waitClosed();
    t.equal(raw.received().toString('latin1'), VALID_HEADER, JSON.stringify(header));
  }
});

t.test('[connection.start/server-support] a request for a newer version is answered with 0-9-1, not above it', async (t) => {
  const to = await target(t);
  for (const header of ['AMQP\x00\x00\x09\x02', 'AMQP\x00\x02\x00\x00']) {
    const raw = await RawClient.connect(t, to.port);
    raw.write(Buffer.from(header, 'latin1'));
    await raw.waitClosed();
    t.equal(raw.received().toString('latin1'), VALID_HEADER, JSON.stringify(header));
  }
});

t.test('[connection.start/client-support] a client that hangs up after connection.start leaves the broker serving others', async (t) => {
  const to = await target(t);
  for (let i = 0; i < 5; i++) {
    const raw = await RawClient.connect(t, to.port);
    raw.write(PROTOCOL_HEADER);
    const start = await raw.expectMethod(MethodId.ConnectionStart);
    t.same([start.versionMajor, start.versionMinor], [0, 9]);
    raw.destroy();
  }
  t.equal(await roundTrip(await open(t, to)), 'ping');
});

t.test('[connection.start.server-properties/required-fields] [connection.start.locales/required-support] start names the product and offers en_US', async (t) => {
  const to = await target(t);
  const raw = await RawClient.connect(t, to.port);
  raw.write(PROTOCOL_HEADER);
  const start = await raw.expectMethod(MethodId.ConnectionStart);
  for (const field of ['product', 'version', 'platform', 'copyright', 'information']) {
    t.ok(String(start.serverProperties[field] ?? '').length > 0, `server-properties has ${field}`);
  }
  t.ok(String(start.locales).split(' ').includes('en_US'), `locales "${String(start.locales)}" include en_US`);
});

t.test('[connection.start-ok.mechanism/security] every mechanism the broker offers logs in', async (t) => {
  const to = await target(t);
  const probe = await RawClient.connect(t, to.port);
  probe.write(PROTOCOL_HEADER);
  const offered = String((await probe.expectMethod(MethodId.ConnectionStart)).mechanisms).split(' ');
  probe.destroy();
  t.ok(offered.includes('PLAIN'), 'PLAIN is offered');
  for (const mechanism of offered) {
    const response = mechanism === 'AMQPLAIN' ? amqplainResponse(to.user, to.password) : plainResponse(to.user, to.password);
    await rawOpen(t, to, { mechanism, response });
    t.pass(`${mechanism} logs in`);
  }
});

t.test('[connection.start-ok.mechanism/validity] a mechanism the broker did not offer gets the socket closed without a frame', async (t) => {
  const to = await target(t);
  const raw = await RawClient.connect(t, to.port);
  await raw.startHandshake({ mechanism: 'NO-SUCH-MECHANISM' });
  await raw.expectSilentClose();
  t.pass('closed without connection.close');
});

t.test('[connection.tune.frame-max/minimum] a frame of frame-min-size octets is accepted before tune', async (t) => {
  const to = await target(t);
  const raw = await RawClient.connect(t, to.port);
  raw.write(PROTOCOL_HEADER);
  await raw.expectMethod(MethodId.ConnectionStart);
  const startOk = (padding: string): Buffer =>
    methodPayload({
      id: MethodId.ConnectionStartOk,
      clientProperties: { product: 'rules', capabilities: CLIENT_CAPABILITIES, padding },
      mechanism: 'PLAIN',
      response: plainResponse(to.user, to.password),
      locale: 'en_US',
    });
  const base = startOk('').length;
  const frame = frameBytes(FrameType.method, 0, startOk('x'.repeat(4096 - 8 - base)));
  t.equal(frame.length, 4096, 'the start-ok frame is exactly frame-min-size octets');
  raw.write(frame);
  const tune = await raw.expectMethod(MethodId.ConnectionTune);
  t.ok(tune.frameMax === 0 || tune.frameMax >= 4096, 'the offered frame_max is at least frame-min-size');
});

t.test('[connection.tune-ok.frame-max/minimum] frame_max 4096 is accepted and content is sent in frames that fit it', async (t) => {
  const to = await target(t);
  const raw = await rawOpen(t, to, { frameMax: 4096 });
  await raw.openChannel(1);
  const queue = unique('frame-min');
  raw.method(1, { id: MethodId.QueueDeclare, queue, passive: false, durable: false, exclusive: true, autoDelete: false, noWait: false, arguments: {} });
  await raw.expectMethod(MethodId.QueueDeclareOk, 1);
  const body = Buffer.alloc(10_000, 7);
  rawPublish(raw, 1, body, { routingKey: queue, frameMax: 4096 });
  raw.method(1, { id: MethodId.BasicGet, queue, noAck: true });
  await raw.expectMethod(MethodId.BasicGetOk, 1);
  const got = await rawContent(raw);
  t.ok(got.body.equals(body), 'the body arrives whole');
  t.ok(got.frameSizes.length > 1 && got.frameSizes.every((n) => n <= 4096), `body frames of ${got.frameSizes.join(', ')} octets`);
});

t.test('[connection.tune-ok.frame-max/minimum] frame_max below frame-min-size is refused by closing the socket', async (t) => {
  const to = await target(t);
  const raw = await RawClient.connect(t, to.port);
  await raw.startHandshake({ response: plainResponse(to.user, to.password) });
  const tune = await raw.expectMethod(MethodId.ConnectionTune);
  raw.method(0, { id: MethodId.ConnectionTuneOk, channelMax: tune.channelMax, frameMax: 1024, heartbeat: 0 });
  await expectUnnegotiatedClose(t, raw, 'frame_max 1024');
});

t.test('[connection.tune-ok.channel-max/upper-limit] [connection.tune-ok.frame-max/upper-limit] tune-ok above the offer gets the socket closed without a close handshake', async (t) => {
  const to = await target(t);
  const over = async (field: 'channelMax' | 'frameMax'): Promise<void> => {
    const raw = await RawClient.connect(t, to.port);
    await raw.startHandshake({ response: plainResponse(to.user, to.password) });
    const tune = await raw.expectMethod(MethodId.ConnectionTune);
    const values = { channelMax: tune.channelMax, frameMax: tune.frameMax, [field]: tune[field] + 1 };
    raw.method(0, { id: MethodId.ConnectionTuneOk, ...values, heartbeat: 0 });
    await expectUnnegotiatedClose(t, raw, `${field} ${values[field]} over the offered ${tune[field]}`);
  };
  await Promise.all([over('channelMax'), over('frameMax')]);
});

t.test('[connection.open.virtual-host/security] opening a virtual host the user may not use is refused with 530', async (t) => {
  const to = await target(t);
  const raw = await RawClient.connect(t, to.port);
  await raw.startHandshake({ response: plainResponse(to.user, to.password) });
  const tune = await raw.expectMethod(MethodId.ConnectionTune);
  raw.method(0, { id: MethodId.ConnectionTuneOk, channelMax: tune.channelMax, frameMax: tune.frameMax, heartbeat: 0 });
  raw.method(0, { id: MethodId.ConnectionOpen, virtualHost: unique('vhost') });
  const close = await raw.expectClose();
  t.equal(close.replyCode, 530);
  t.same([close.classId, close.methodId], [10, 40], 'names connection.open');
});

t.test('[connection.close/stability] after the broker sends connection.close it ignores other methods and closes on close-ok', async (t) => {
  const to = await target(t);
  const raw = await rawOpen(t, to);
  await raw.openChannel(1);
  raw.method(1, { id: MethodId.ChannelOpen });
  const close = await raw.expectMethod(MethodId.ConnectionClose);
  t.equal(close.replyCode, 504, 'a second channel.open is a connection error');
  raw.method(2, { id: MethodId.ChannelOpen });
  t.ok(await raw.quietFor(300), 'channel.open after connection.close gets no reply');
  raw.method(0, { id: MethodId.ConnectionCloseOk });
  await raw.waitClosed();
  t.pass('socket closed after close-ok');
});

t.test('[connection.close/stability] a close crossing the broker\'s close is answered with close-ok', async (t) => {
  const to = await target(t);
  const raw = await rawOpen(t, to);
  await raw.openChannel(1);
  raw.method(1, { id: MethodId.ChannelOpen });
  await raw.expectMethod(MethodId.ConnectionClose);
  raw.method(0, { id: MethodId.ConnectionClose, replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 });
  await raw.expectMethod(MethodId.ConnectionCloseOk);
  t.pass('close-ok');
});

/**
 * The broker closes the socket without waiting for close-ok. RabbitMQ 3.10 sends
 * nothing first; later RabbitMQ versions and this broker report the reason in a
 * connection.close 530 (the rule allows reporting the error "in some fashion").
 */
async function expectUnnegotiatedClose(t: Test, raw: RawClient, what: string): Promise<void> {
  await raw.waitClosed(6000);
  const frames = raw.pending().filter((f) => f.type !== FrameType.heartbeat);
  const reported = frames.map((f) => decodeMethod(new Decoder(f.payload)));
  t.ok(
    reported.every((m) => m?.id === MethodId.ConnectionClose && m.replyCode === 530),
    `${what}: the socket closed without close-ok, after ${reported.length === 0 ? 'no frame' : 'connection.close 530'}`,
  );
}

/** An AMQPLAIN response: a field table body (without its length) holding LOGIN and PASSWORD. */
function amqplainResponse(user: string, password: string): Buffer {
  const e = new Encoder();
  e.table({ LOGIN: user, PASSWORD: password });
  return e.take().subarray(4);
}
