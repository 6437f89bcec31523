import { pino } from 'pino';
import t, { type Test } from 'tap';
import { MethodId, type Method } from '../../src/protocol/generated/amqp-methods.js';
import { roundTrip } from '../support/broker.js';
import { frameBytes, plainResponse, PROTOCOL_HEADER, RawClient, rawScene, type RawScene } from '../support/raw-client.js';

// A misbehaving client gets one log line for its bad input, however many bad frames follow it:
// a flood of garbage must not turn into a flood of log lines.

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly peer?: string;
}

const INFO = 30;

/** A broker whose log lines are kept in memory. */
async function loggedScene(t: Test): Promise<RawScene & { linesFrom(raw: RawClient): LogLine[] }> {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  const scene = await rawScene(t, { logger });
  return {
    ...scene,
    linesFrom: (raw) => lines.filter((l) => l.level >= INFO && l.peer === `127.0.0.1:${raw.localPort}`),
  };
}

const ACK_99: Method = { id: MethodId.BasicAck, deliveryTag: 99, multiple: false };

t.test('fifty frames of an unknown type in one write: one log line', async (t) => {
  const scene = await loggedScene(t);
  const raw = await RawClient.open(t, scene.port);
  raw.write(Buffer.concat(Array.from({ length: 50 }, () => frameBytes(9, 0, Buffer.alloc(0)))));
  await raw.expectClose();
  const lines = scene.linesFrom(raw);
  t.equal(lines.length, 1, 'exactly one log line');
  t.match(lines[0]?.msg, /unknown frame type 9/);
  t.equal(await roundTrip(scene.bystander), 'ping', 'another connection still works');
});

t.test('bad methods sent after the broker closed the connection: one log line', async (t) => {
  const scene = await loggedScene(t);
  const raw = await RawClient.open(t, scene.port);
  raw.method(0, { id: MethodId.ChannelOpen });
  for (let i = 0; i < 50; i++) raw.method(0, { id: MethodId.ChannelOpen });
  await raw.expectClose();
  t.equal(scene.linesFrom(raw).length, 1);
  t.equal(await roundTrip(scene.bystander), 'ping', 'another connection still works');
});

t.test('bad methods sent on a channel the broker is closing: one log line', async (t) => {
  const scene = await loggedScene(t);
  const raw = await RawClient.open(t, scene.port);
  await raw.openChannel(1);
  for (let i = 0; i < 50; i++) raw.method(1, ACK_99);
  await raw.expectChannelClose(1);
  await raw.openChannel(2);
  const lines = scene.linesFrom(raw);
  t.equal(lines.length, 1, 'exactly one log line');
  t.match(lines[0]?.msg, /unknown delivery tag 99/);
});

t.test('garbage before the handshake is done: one log line for the refusal', async (t) => {
  const scene = await loggedScene(t);
  const raw = await RawClient.connect(t, scene.port);
  raw.write(PROTOCOL_HEADER);
  await raw.expectMethod(MethodId.ConnectionStart);
  for (let i = 0; i < 20; i++) raw.write(frameBytes(9, 0, Buffer.alloc(0)));
  await raw.expectSilentClose();
  t.equal(scene.linesFrom(raw).length, 1);
  t.equal(await roundTrip(scene.bystander), 'ping', 'another connection still works');
});

t.test('a wrong password: one log line, with the reason the client is not told', async (t) => {
  const scene = await loggedScene(t);
  const raw = await RawClient.connect(t, scene.port);
  await raw.startHandshake({ response: plainResponse('guest', 'wrong') });
  const close = await raw.expectClose();
  t.notMatch(close.replyText, /invalid credentials/, 'the client only gets the generic text');
  const lines = scene.linesFrom(raw);
  t.equal(lines.length, 1, 'exactly one log line');
  t.match(lines[0]?.msg, /PLAIN login refused: user 'guest' - invalid credentials/);
});

t.test('a refused protocol header: one log line', async (t) => {
  const scene = await loggedScene(t);
  const raw = await RawClient.connect(t, scene.port);
  raw.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(50)));
  await raw.waitClosed();
  t.equal(scene.linesFrom(raw).length, 1);
});
