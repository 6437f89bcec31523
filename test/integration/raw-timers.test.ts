import t from 'tap';
import { MethodId } from '../../src/protocol/generated/amqp-methods.js';
import { delay, roundTrip } from '../support/broker.js';
import { FrameType, heartbeatFrame, PROTOCOL_HEADER, RawClient, rawScene } from '../support/raw-client.js';

// The handshake deadline and heartbeats, on both sides. The broker's clock ticks twice a second,
// so the waits below allow a few seconds; none of them measures speed.

t.test('handshakeTimeout closes a client that never finishes the handshake', async (t) => {
  const { bystander, port } = await rawScene(t, { handshakeTimeout: 1 });
  const silent = await RawClient.connect(t, port);
  const afterHeader = await RawClient.connect(t, port);
  afterHeader.write(PROTOCOL_HEADER);
  await afterHeader.expectMethod(MethodId.ConnectionStart);
  const beforeTuneOk = await RawClient.connect(t, port);
  await beforeTuneOk.startHandshake();
  await beforeTuneOk.expectMethod(MethodId.ConnectionTune);
  await Promise.all([silent.waitClosed(4000), afterHeader.waitClosed(4000), beforeTuneOk.waitClosed(4000)]);
  t.same(silent.received(), Buffer.alloc(0), 'a client that sent nothing got nothing');
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});

t.test('the handshake timeout does not apply once the connection is open', async (t) => {
  const { port } = await rawScene(t, { handshakeTimeout: 1 });
  const raw = await RawClient.open(t, port);
  t.ok(await raw.quietFor(2500), 'still open after the deadline');
  await raw.openChannel(1);
});

t.test('a longer handshakeTimeout leaves a slow client time to finish', async (t) => {
  const { port } = await rawScene(t, { handshakeTimeout: 30 });
  const raw = await RawClient.connect(t, port);
  await delay(2500);
  t.notOk(raw.closed, 'still open after 2.5 s');
  await raw.handshake();
});

t.test('with heartbeat = 1 the broker sends a heartbeat every half second while idle, as RabbitMQ does', async (t) => {
  const { port } = await rawScene(t);
  const raw = await RawClient.open(t, port, { heartbeat: 1 });
  // Keep the broker from timing the client out while we listen.
  const keepAlive = setInterval(() => raw.write(heartbeatFrame()), 400);
  t.teardown(() => clearInterval(keepAlive));
  const arrivals: number[] = [];
  for (const until = Date.now() + 3500; Date.now() < until; await delay(10)) {
    while (arrivals.length < raw.pending().length) arrivals.push(Date.now());
  }
  const frames = raw.pending();
  // A client that gives up after one silent interval (socket.setTimeout(heartbeat * 1000)) needs more than one a second.
  t.ok(frames.length >= 5, `at least 5 frames in 3.5 s (got ${frames.length})`);
  const gaps = arrivals.slice(1).map((at, i) => at - arrivals[i]!).sort((a, b) => a - b);
  t.ok(gaps[Math.floor(gaps.length / 2)]! < 800, `half a second apart, not a second (median gap ${gaps[Math.floor(gaps.length / 2)]} ms)`);
  for (const frame of frames) {
    t.same([frame.type, frame.channel, frame.payload.length], [FrameType.heartbeat, 0, 0], 'an empty heartbeat frame on channel 0');
  }
});

t.test('with heartbeat = 0 the broker sends no heartbeats', async (t) => {
  const { port } = await rawScene(t);
  const raw = await RawClient.open(t, port, { heartbeat: 0 });
  await delay(2000);
  t.same(raw.pending(), [], 'nothing arrived');
  t.notOk(raw.closed);
});

t.test('a client that stops sending is disconnected after two missed heartbeats', async (t) => {
  const { bystander, port } = await rawScene(t);
  const raw = await RawClient.open(t, port, { heartbeat: 1 });
  await raw.openChannel(1);
  await raw.waitClosed(5000);
  const frames = raw.pending().filter((f) => f.type !== FrameType.heartbeat);
  t.same(frames, [], 'the socket is dropped without connection.close, as RabbitMQ does');
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});

t.test('a client that sends heartbeats stays connected', async (t) => {
  const { port } = await rawScene(t);
  const raw = await RawClient.open(t, port, { heartbeat: 1 });
  const keepAlive = setInterval(() => raw.write(heartbeatFrame()), 400);
  t.teardown(() => clearInterval(keepAlive));
  await delay(3000);
  t.notOk(raw.closed, 'open after three intervals');
  await raw.openChannel(1);
});

t.test('any traffic counts as a sign of life, not just heartbeat frames', async (t) => {
  const { port } = await rawScene(t);
  const raw = await RawClient.open(t, port, { heartbeat: 1 });
  await raw.openChannel(1);
  const busy = setInterval(() => raw.method(1, { id: MethodId.BasicQos, prefetchSize: 0, prefetchCount: 1, global: false }), 400);
  t.teardown(() => clearInterval(busy));
  await delay(3000);
  t.notOk(raw.closed, 'open after three intervals of basic.qos');
});

t.test('heartbeats start at tune-ok: a client that never sends connection.open is dropped by them', async (t) => {
  const { bystander, port } = await rawScene(t);
  const raw = await RawClient.connect(t, port);
  await raw.startHandshake();
  await raw.expectMethod(MethodId.ConnectionTune);
  raw.method(0, { id: MethodId.ConnectionTuneOk, channelMax: 2047, frameMax: 131072, heartbeat: 1 });
  const heartbeat = await raw.nextFrame(3000);
  t.equal(heartbeat.type, FrameType.heartbeat, 'a heartbeat before connection.open');
  // Well before the 10 s handshake timeout.
  await raw.waitClosed(5000);
  t.equal(await roundTrip(bystander), 'ping', 'another connection still works');
});
