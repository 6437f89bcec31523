import { connect, createServer, type Socket } from 'node:net';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { Encoder } from '../../src/protocol/encoder.js';
import { Link } from '../../src/replication/link.js';
import { checkStandbyResponse, newNonce, primaryProof, standbyResponse } from '../../src/replication/link-auth.js';
import { FrameType } from '../../src/replication/wire.js';
import { writeSnapshot } from '../../src/store/definition-records.js';
import { writeMessageRecord } from '../../src/store/journal-record.js';
import { eventually, within } from '../support/broker.js';
import { tempDataDir } from '../support/data-dir.js';
import { capturedLogger, inSync, replication, SECRET, startNode, startPair, startStandby } from '../support/replication.js';
import { seeded } from '../support/seeded-random.js';

// Whoever knows the secret may still send nonsense: a malformed frame drops
// the link with one log line, never the process, and nothing of it is stored.

const quiet = pino({ level: 'silent' });

/** A socket to `port` that has passed the handshake as a standby, holding the Session frame. */
async function joinAsStandby(port: number): Promise<Link> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise((resolve) => socket.once('connect', resolve));
  const link = new Link(socket, quiet, 5000, () => {});
  const challenge = (await link.expect(FrameType.Challenge, 5000)).payload;
  link.sendFrame(FrameType.Response, (e) => e.bytes(standbyResponse(SECRET, challenge)));
  await link.expect(FrameType.Proof, 5000);
  link.sendFrame(FrameType.Hello, (e) => {
    e.u32(0);
    e.shortstr('');
  });
  await link.expect(FrameType.Session, 5000);
  return link;
}

/** A fake primary on a port of its own: each standby that connects is handshaken, given a session, then `act` on. */
async function fakePrimary(t: Test, act: (link: Link) => void): Promise<{ port: number; sessions: () => number }> {
  let sessions = 0;
  const server = createServer((socket: Socket) => {
    const link = new Link(socket, quiet, 5000, () => {});
    void (async () => {
      const challenge = newNonce();
      link.sendFrame(FrameType.Challenge, (e) => e.bytes(challenge));
      const response = (await link.expect(FrameType.Response, 5000)).payload;
      const nonce = checkStandbyResponse(SECRET, challenge, response)!;
      link.sendFrame(FrameType.Proof, (e) => e.bytes(primaryProof(SECRET, challenge, nonce)));
      await link.expect(FrameType.Hello, 5000);
      link.sendFrame(FrameType.Session, (e) => {
        e.u32(1);
        e.u16(5672);
        writeSnapshot(e, { nextQueueId: 1, exchanges: [], queues: [], bindings: [], access: undefined });
      });
      sessions++;
      act(link);
    })().catch(() => link.end('fake primary done'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as { port: number }).port, sessions: () => sessions };
}

t.test('a standby that sends nonsense after the handshake is dropped; the primary serves on and takes the next one', async (t) => {
  const { logger, lines } = capturedLogger();
  const primary = await startNode(t, tempDataDir(t, 'primary-'), { replication: replication(), logger });
  const link = await joinAsStandby(primary.replicationPort!);
  await eventually(() => primary.replicationStatus()?.state !== 'no standby', 5000, 'the fake standby has a session');
  link.sendFrame(99 as FrameType, (e) => e.u32(7));
  await eventually(() => lines.some((l) => l.msg.includes('standby link dropped') && String(l['reason']).includes('unexpected frame type 99')), 5000, 'dropped, saying why');
  t.equal(primary.replicationStatus()?.state, 'no standby');
  const standby = await startStandby(t, tempDataDir(t, 'standby-'), primary);
  await inSync(standby);
  t.pass('a real standby joins afterwards');
});

t.test('a primary that sends a record that does not check out is dropped; the standby stores nothing of it and tries again', async (t) => {
  const bad = new Encoder();
  writeMessageRecord(bad, { epoch: 1, seq: 1, queueIds: [1], exchange: '', routingKey: 'q', rawProperties: Buffer.from([0, 0]), body: Buffer.from('x') });
  const record = Buffer.from(bad.take());
  record[record.length - 1]! ^= 0xff;
  const primary = await fakePrimary(t, (link) =>
    link.sendFrame(FrameType.Record, (e) => {
      e.u32(1);
      e.u32(20);
      e.bytes(record);
    }),
  );
  const { logger, lines } = capturedLogger();
  const standby = await startNode(t, tempDataDir(t, 'standby-'), { replication: replication({ standbyOf: { host: '127.0.0.1', port: primary.port } }), logger });
  await eventually(() => primary.sessions() >= 2, 10_000, 'the standby comes back after the drop');
  t.ok(lines.some((l) => String(l['reason']).includes('does not check out')), 'the drop is logged with its reason');
  t.match(standby.replicationStatus()?.state, /link down|connecting|syncing/);
});

t.test('random frames from an authenticated primary never crash the standby', async (t) => {
  const random = seeded(99);
  const primary = await fakePrimary(t, (link) => {
    const e = new Encoder();
    for (let i = 0; i < 20; i++) {
      const type = 11 + Math.floor(random() * 10);
      const length = Math.floor(random() * 40);
      e.u32(1 + length);
      e.u8(type);
      for (let b = 0; b < length; b++) e.u8(Math.floor(random() * 256));
    }
    link.send(e.take());
    setTimeout(() => link.end('fake primary done'), 50);
  });
  const standby = await startNode(t, tempDataDir(t, 'standby-'), { replication: replication({ standbyOf: { host: '127.0.0.1', port: primary.port } }) });
  await within(eventually(() => primary.sessions() >= 5, 20_000, 'five sessions of garbage'), 25_000, 'the standby keeps coming back');
  t.ok(standby.replicationStatus() !== undefined, 'the standby is still running');
});

t.test("a standby's replication port turns peers away, saying whose standby it is", async (t) => {
  const { primary, standby } = await startPair(t);
  const socket = connect({ host: '127.0.0.1', port: standby.replicationPort! });
  await new Promise((resolve) => socket.once('connect', resolve));
  const link = new Link(socket, quiet, 5000, () => {});
  await t.rejects(link.expect(FrameType.Challenge, 5000), new RegExp(`refused by the peer: this node is a standby of 127\\.0\\.0\\.1:${primary.replicationPort}`));
  link.end('done');
});

t.test('a replication port in use stops the start, before anything else', async (t) => {
  const first = await startNode(t, tempDataDir(t, 'first-'), { replication: replication() });
  await t.rejects(startNode(t, tempDataDir(t, 'second-'), { replication: replication({ port: first.replicationPort! }) }), /EADDRINUSE/);
});
