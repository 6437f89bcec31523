import { fork } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import * as amqp from 'amqplib';
import t, { type Test } from 'tap';
import { eventually } from '../support/broker.js';
import type { ChildReport } from '../support/broker-child.js';

/** Connection cycles here; `npm run test:churn` runs the 10,000. */
const CYCLES = Number(process.env['CHURN_CONNECTIONS'] ?? 2000);
/** Cycles before the baseline is taken: V8 and the allocator settle on their working sizes first. */
const WARM_UP = Math.min(500, Math.floor(CYCLES / 4));
const SILENT_CLIENTS = 2000;

t.setTimeout(60_000 + CYCLES * 30);

/** `npm test` compiles to dist/ first: the child runs the compiled broker. */
const CHILD = fileURLToPath(new URL('../../dist/test/support/broker-child.js', import.meta.url));

interface ForkedBroker {
  readonly pid: number;
  readonly port: number;
  /** Memory after a full collection, and active handles. */
  report(): Promise<ChildReport>;
}

/** A broker in a child process (see broker-child.ts), ended with the test. */
async function forkBroker(t: Test, handshakeTimeout: number): Promise<ForkedBroker> {
  const child = fork(CHILD, [String(handshakeTimeout)], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  t.teardown(() => {
    if (child.connected) child.disconnect();
  });
  const { port } = await new Promise<{ port: number }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { port: number }));
    child.once('exit', (code) => reject(new Error(`the broker child exited with ${code}`)));
  });
  return {
    pid: child.pid!,
    port,
    report: () =>
      new Promise((resolve) => {
        child.once('message', (m) => resolve(m as ChildReport));
        child.send('report');
      }),
  };
}

function openFiles(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

const MIB = 2 ** 20;

t.test(`${CYCLES} connections opened and closed, each with channels, a consumer and an exclusive queue, leave the broker as they found it`, async (t) => {
  const broker = await forkBroker(t, 10);
  const pid = broker.pid;
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
  const before = await broker.report();
  await run(WARM_UP, CYCLES);
  await eventually(() => openFiles(pid) <= files, 10_000, `open files back to ${files}`);
  const after = await broker.report();
  t.pass(`open files back to ${files} after ${CYCLES} connections`);
  t.equal(after.handles, before.handles, `active handles back to ${before.handles}`);
  const heap = after.heapUsed - before.heapUsed;
  t.ok(heap < 8 * MIB, `heap after a full collection: ${(before.heapUsed / MIB).toFixed(1)} MiB, then ${(after.heapUsed / MIB).toFixed(1)} MiB after ${CYCLES - WARM_UP} more connections`);
  const rss = after.rss - before.rss;
  t.ok(rss < 64 * MIB, `resident memory grew by ${(rss / MIB).toFixed(1)} MiB over them`);
});

t.test(`${SILENT_CLIENTS} clients that never finish the handshake cost little and are dropped by the handshake timeout`, async (t) => {
  // Long enough to see them all held before they are dropped.
  const broker = await forkBroker(t, 4);
  const pid = broker.pid;
  const files = openFiles(pid);
  const { rss } = await broker.report();
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
  const perClient = ((await broker.report()).rss - rss) / SILENT_CLIENTS;
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
