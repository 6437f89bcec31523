import * as amqp from 'amqplib';
import { readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startBroker } from '../../src/index.js';
import { SYNCED_MARKER_OFFSET } from '../../src/store/segment-header.js';
import { eventually, within } from '../support/broker.js';
import { type BrokerProcess, startBrokerProcess, tempDataDir } from '../support/data-dir.js';

// A flipped bit in data the journal had synced is damage, not a torn write:
// the broker refuses to start, naming the file and the offset, and changes
// nothing. Only the tail past the last fdatasync may be cut off.

const MESSAGES = 2000;

/** Publishes MESSAGES confirmed persistent messages, waits until the header marks them synced, and kills the broker. */
async function journalOfConfirmedMessages(t: Test, dataDir: string): Promise<string> {
  const broker = await startBrokerProcess(t, dataDir);
  const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${broker.port}`);
  const ch = await connection.createConfirmChannel();
  await ch.assertQueue('kept', { durable: true });
  for (let i = 0; i < MESSAGES; i++) ch.sendToQueue('kept', Buffer.from(`message ${i} `.padEnd(200, '.')), { persistent: true });
  await ch.waitForConfirms();
  const segment = newestSegment(dataDir);
  // The marker trails the last commit; once the journal is quiet it covers every confirmed record.
  await eventually(() => marker(segment) === readFileSync(segment).length, 10_000, 'the synced-length marker covers the file');
  await connection.close();
  await kill(broker);
  return segment;
}

function newestSegment(dataDir: string): string {
  const journal = join(dataDir, 'journal');
  return join(journal, readdirSync(journal).filter((n) => n.endsWith('.msgs')).sort().at(-1)!);
}

function marker(segment: string): number {
  return readFileSync(segment).readUInt32BE(SYNCED_MARKER_OFFSET);
}

/** How many messages wait in `queue`, over a connection of its own. */
async function waiting(url: string, queue: string): Promise<number> {
  const connection = await amqp.connect(url);
  try {
    return (await (await connection.createChannel()).checkQueue(queue)).messageCount;
  } finally {
    await connection.close();
  }
}

/** Flips one bit of the byte in the middle of the file, as a failing disk might; returns the new contents. */
function flipMiddleByte(path: string): Buffer {
  const bytes = readFileSync(path);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  writeFileSync(path, bytes);
  return bytes;
}

async function kill(broker: BrokerProcess): Promise<void> {
  broker.child.kill('SIGKILL');
  await within(broker.exited, 10_000, 'the killed broker exits');
}

t.test('a flipped byte in the middle of the last segment refuses the start, naming file and offset, and changes nothing', async (t) => {
  const dataDir = tempDataDir(t, 'durable-damage-');
  const segment = await journalOfConfirmedMessages(t, dataDir);
  const bytes = flipMiddleByte(segment);

  const refused = await startBrokerProcess(t, dataDir).then(
    () => undefined,
    (err: Error) => err.message,
  );
  t.match(refused, /exited with 1/, 'the broker exits with a failure status');
  t.match(refused, new RegExp(`journal file ${segment} is damaged at offset \\d+: checksum mismatch, below the synced length ${bytes.length}`), 'naming the file and the offset');
  t.same(readFileSync(segment), bytes, 'the segment is left as it was');
});

t.test('with --force-recover the damaged record is moved aside and every readable record after it is kept', async (t) => {
  const dataDir = tempDataDir(t, 'durable-force-');
  const segment = await journalOfConfirmedMessages(t, dataDir);
  const bytes = flipMiddleByte(segment);

  const broker = await startBrokerProcess(t, dataDir, ['--force-recover']);
  const damaged = readdirSync(join(dataDir, 'journal', 'damaged'));
  t.equal(damaged.length, 1, `the unreadable bytes are kept aside: ${damaged.join()}`);
  const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${broker.port}`);
  t.teardown(() => connection.close().catch(() => {}));
  const ch = await connection.createChannel();
  const got: number[] = [];
  for (let m = await ch.get('kept', { noAck: true }); m !== false; m = await ch.get('kept', { noAck: true })) got.push(Number(/message (\d+)/.exec(m.content.toString())![1]));
  t.equal(got.length, MESSAGES - 1, 'one message, the one the flipped byte was in, is lost');
  t.same(got, [...got].sort((a, b) => a - b), 'the rest in order');
  t.ok(got.includes(MESSAGES - 1), 'including those after the damage, to the last one');
  await connection.close();
  await kill(broker);

  const plain = await startBrokerProcess(t, dataDir);
  t.ok(plain.port > 0, 'and the repaired directory starts without the flag');
  await kill(plain);
});

t.test('a segment file deleted by hand, in the middle or the newest, is refused by name; legitimately deleted ones are not missed', async (t) => {
  const dataDir = tempDataDir(t, 'durable-missing-');
  const journal = join(dataDir, 'journal');
  const options = { dataDir, logLevel: 'silent', segmentSize: 32 * 1024 } as const;
  let broker = await startBroker(options);
  const connection = await amqp.connect(broker.url);
  const ch = await connection.createConfirmChannel();
  await ch.assertQueue('drained', { durable: true });
  await ch.assertQueue('kept', { durable: true });
  // The first segments fill with messages that are then consumed: they are deleted, as they should be.
  for (let i = 0; i < 100; i++) ch.sendToQueue('drained', Buffer.alloc(1024, 'd'), { persistent: true });
  await ch.waitForConfirms();
  await ch.purgeQueue('drained');
  for (let i = 0; i < 200; i++) ch.sendToQueue('kept', Buffer.from(`kept ${i} `.padEnd(1024, '.')), { persistent: true });
  await ch.waitForConfirms();
  await connection.close();
  await broker.close();

  broker = await startBroker(options);
  t.equal(await waiting(broker.url, 'kept'), 200, 'a restart after deletions misses nothing');
  await broker.close();

  const segments = readdirSync(journal).filter((n) => n.endsWith('.msgs')).sort();
  t.ok(segments.length >= 4, `several segments: ${segments.join(', ')}`);
  const middle = segments[1]!;
  const newest = segments.at(-1)!;
  for (const name of [middle, newest]) {
    const path = join(journal, name);
    const bytes = readFileSync(path);
    unlinkSync(path);
    await t.rejects(startBroker(options), { name: 'MissingSegmentError', message: new RegExp(`missing segment file\\(s\\) ${name}`) }, `${name} gone: refused`);
    writeFileSync(path, bytes);
  }

  unlinkSync(join(journal, middle));
  broker = await startBroker({ ...options, forceRecover: true });
  t.teardown(() => broker.close());
  const left = await waiting(broker.url, 'kept');
  t.ok(left > 0 && left < 200, `with forceRecover it starts with what the other segments hold (${left} of 200)`);
});

t.test('with --force-recover damage in the last record is cut off, and the next start without the flag reads the file as whole', async (t) => {
  const dataDir = tempDataDir(t, 'durable-force-tail-');
  const segment = await journalOfConfirmedMessages(t, dataDir);
  const bytes = readFileSync(segment);
  bytes[bytes.length - 10]! ^= 0x01;
  writeFileSync(segment, bytes);

  await kill(await startBrokerProcess(t, dataDir, ['--force-recover']));
  t.ok(readFileSync(segment).length < bytes.length, 'the damaged last record was cut off (and kept aside)');
  const plain = await startBrokerProcess(t, dataDir);
  t.equal(await waiting(`amqp://guest:guest@127.0.0.1:${plain.port}`, 'kept'), MESSAGES - 1, 'every other message is there');
  await kill(plain);
});
