import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { connect, eventually } from '../support/broker.js';
import { restartableBroker } from '../support/data-dir.js';
import { drain } from '../support/messages.js';

// A slow queue sharing the journal with a fast one: once the fast one is
// drained, the journal segments are three-quarters garbage, and compaction
// gives the disk back without losing or reordering the slow queue.

const SEGMENT_SIZE = 64 * 1024;
const ROUNDS = 400;

/** Bytes of the journal's message files. */
function journalBytes(dataDir: string): number {
  const dir = join(dataDir, 'journal');
  return readdirSync(dir).filter((n) => n.endsWith('.msgs')).reduce((sum, n) => sum + statSync(join(dir, n)).size, 0);
}

t.test('segments left mostly garbage by a drained queue are compacted; the other queue survives a restart whole and in order', async (t) => {
  const b = await restartableBroker(t, { segmentSize: SEGMENT_SIZE });
  const connection = await connect(t, b.broker);
  const channel = await connection.createConfirmChannel();
  await channel.assertQueue('slow', { durable: true });
  await channel.assertQueue('fast', { durable: true });
  const payload = (queue: string, i: number): Buffer => Buffer.from(`${queue} ${i} `.padEnd(300, '-'));
  for (let i = 1; i <= ROUNDS; i++) {
    channel.sendToQueue('slow', payload('slow', i), { persistent: true });
    for (let k = 0; k < 3; k++) channel.sendToQueue('fast', payload('fast', i), { persistent: true });
  }
  await channel.waitForConfirms();
  const full = journalBytes(b.dataDir);
  t.ok(full > 4 * SEGMENT_SIZE, `the journal spans several segments (${full} bytes)`);

  // A consumer that has received the slow queue's first message without acking it yet.
  const slowConsumer = await connection.createChannel();
  await slowConsumer.prefetch(1);
  const firstDelivered = new Promise<void>((resolve) => void slowConsumer.consume('slow', () => resolve()));
  await firstDelivered;

  t.equal((await drain(channel, 'fast', false)).length, ROUNDS * 3);
  channel.ackAll();
  await eventually(() => journalBytes(b.dataDir) < full / 2, 15_000, 'the journal shrinks to what the slow queue holds');
  t.pass(`the journal went from ${full} to ${journalBytes(b.dataDir)} bytes`);

  const broker = await b.restart();
  const after = await connect(t, broker);
  const reader = await after.createChannel();
  const slow = await drain(reader, 'slow');
  t.equal(slow.length, ROUNDS, 'every message of the slow queue came back');
  t.same(
    slow.map((m) => m.content.toString().split(' ').slice(0, 2).join(' ')),
    Array.from({ length: ROUNDS }, (_, i) => `slow ${i + 1}`),
    'in publish order, bodies intact',
  );
  t.same(slow.map((m) => m.fields.redelivered).slice(0, 2), [true, false], 'the one delivered before the restart is marked redelivered');
  t.equal((await drain(reader, 'fast')).length, 0, 'nothing the fast queue acked came back');
});
