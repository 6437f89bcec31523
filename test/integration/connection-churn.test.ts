import { readdirSync, readFileSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import * as amqp from 'amqplib';
import t from 'tap';
import { eventually } from '../support/broker.js';
import { startCli } from '../support/cli-process.js';

/** Connection cycles here; `npm run test:churn` runs the 10,000. */
const CYCLES = Number(process.env['CHURN_CONNECTIONS'] ?? 2000);
/** Cycles before the baseline is taken: V8 and the allocator settle on their working sizes first. */
const WARM_UP = Math.min(500, Math.floor(CYCLES / 4));
const SILENT_CLIENTS = 2000;

t.setTimeout(60_000 + CYCLES * 30);

function rssOf(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
}

function openFiles(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

const MIB = 2 ** 20;

t.test(`${CYCLES} connections opened and closed, each with channels, a consumer and an exclusive queue, leave the broker as they found it`, async (t) => {
  const broker = await startCli(t, ['--port', '0', '--host', '127.0.0.1', '--data-dir', t.testdir(), '--handshake-timeout', '1']);
  const pid = broker.child.pid!;
  const url = `amqp://guest:guest@127.0.0.1:${broker.port}`;
  const cycle = async (i: number): Promise<void> => {
    const c = await amqp.connect(url);
    const ch = await c.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.consume(queue, () => {});
    const second = await c.createConfirmChannel();
    second.sendToQueue(queue, Buffer.from(`cycle ${i}`));
    await second.waitForConfirms();
    await c.close();
  };
  // Four at a time: a client keeping a few connections busy, as an application pool would.
  const run = async (from: number, to: number): Promise<void> => {
    let next = from;
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (next < to) await cycle(next++);
    }));
  };
  await run(0, WARM_UP);
  // The broker closes its ends just after the clients do: the count is taken once two looks agree.
  let last = -1;
  await eventually(() => last === (last = openFiles(pid)), 5000, 'open files settled');
  const files = last;
  const rss = rssOf(pid);
  await run(WARM_UP, CYCLES);
  await eventually(() => openFiles(pid) <= files, 10_000, `open files back to ${files}`);
  const grown = rssOf(pid) - rss;
  t.pass(`open files back to ${files} after ${CYCLES} connections`);
  t.ok(grown < 64 * MIB, `resident memory grew by ${(grown / MIB).toFixed(1)} MiB over ${CYCLES - WARM_UP} connections after the warm-up`);
  t.equal(broker.child.exitCode, null, 'the broker is still running');
});

t.test(`${SILENT_CLIENTS} clients that never finish the handshake cost little and are dropped by the handshake timeout`, async (t) => {
  // Long enough to see them all held before they are dropped.
  const broker = await startCli(t, ['--port', '0', '--host', '127.0.0.1', '--data-dir', t.testdir(), '--handshake-timeout', '4']);
  const pid = broker.child.pid!;
  const files = openFiles(pid);
  const rss = rssOf(pid);
  const sockets: Socket[] = [];
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  const closedByBroker = { count: 0 };
  // In batches, each connected before the next: a burst past the listen backlog would wait on SYN retries.
  for (let batch = 0; batch < SILENT_CLIENTS / 200; batch++) {
    const connected: Promise<void>[] = [];
    for (let i = batch * 200; i < (batch + 1) * 200; i++) {
      const socket = tcpConnect({ host: '127.0.0.1', port: broker.port });
      socket.on('error', () => {});
      // Read (and ignore) connection.start: unread data would keep the broker's close from being seen.
      socket.resume();
      socket.on('close', () => closedByBroker.count++);
      connected.push(new Promise((resolve) => socket.once('connect', () => {
        // Half send the protocol header and stop there; half send nothing at all.
        if (i % 2 === 0) socket.write(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'));
        resolve();
      })));
      sockets.push(socket);
    }
    await Promise.all(connected);
  }
  await eventually(() => openFiles(pid) >= files + SILENT_CLIENTS, 20_000, 'the broker holds the silent connections');
  const perClient = (rssOf(pid) - rss) / SILENT_CLIENTS;
  t.ok(perClient < 64 * 1024, `about ${(perClient / 1024).toFixed(1)} KiB of resident memory per waiting client`);
  await eventually(() => closedByBroker.count === SILENT_CLIENTS, 30_000, 'every silent client dropped').catch((err: Error) => {
    throw new Error(`${err.message}: ${closedByBroker.count} of ${SILENT_CLIENTS} closed, the broker holds ${openFiles(pid) - files} more files than before`);
  });
  await eventually(() => openFiles(pid) <= files, 10_000, `open files back to ${files}`);
  t.pass(`all ${SILENT_CLIENTS} dropped by the handshake timeout, open files back to ${files}`);
  const c = await amqp.connect(`amqp://guest:guest@127.0.0.1:${broker.port}`);
  await c.close();
  t.pass('and a real client still connects');
});
