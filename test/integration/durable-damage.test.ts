import * as amqp from 'amqplib';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
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

async function kill(broker: BrokerProcess): Promise<void> {
  broker.child.kill('SIGKILL');
  await within(broker.exited, 10_000, 'the killed broker exits');
}

t.test('a flipped byte in the middle of the last segment refuses the start, naming file and offset, and changes nothing', async (t) => {
  const dataDir = tempDataDir(t, 'durable-damage-');
  const segment = await journalOfConfirmedMessages(t, dataDir);
  const bytes = readFileSync(segment);
  const middle = Math.floor(bytes.length / 2);
  bytes[middle]! ^= 0x01;
  writeFileSync(segment, bytes);

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
  const bytes = readFileSync(segment);
  const middle = Math.floor(bytes.length / 2);
  bytes[middle]! ^= 0x01;
  writeFileSync(segment, bytes);

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
