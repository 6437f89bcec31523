import { readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import * as amqp from 'amqplib';
import t from 'tap';
import { startCli } from '../support/cli-process.js';
import { FrameFuzzer } from '../support/frame-fuzzer.js';
import { seeded } from '../support/seeded-random.js';

/** Inputs here; `npm run fuzz` tries 1,000,000. FUZZ_SEED replays a run (the seed is printed). */
const INPUTS = Number(process.env['FUZZ_INPUTS'] ?? 20_000);
const SEED = Number(process.env['FUZZ_SEED'] ?? 20261207);
/** Inputs in flight at once. */
const PARALLEL = 32;
/** How often the bystander checks that a well-behaved client is still served. */
const CHECK_EVERY = 2000;
/** An input's connection that the broker has not closed by then is closed here (a valid-looking input may simply stop mid-way). */
const INPUT_TIMEOUT_MS = 2000;

t.setTimeout(120_000 + INPUTS * 5);

function rssOf(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
}

/** Sends one input on a connection of its own and ends it; resolves once the connection is closed. */
function send(port: number, input: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => socket.destroy(), INPUT_TIMEOUT_MS);
    socket.on('error', () => {});
    socket.on('data', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.on('connect', () => socket.end(input));
  });
}

t.test(`${INPUTS} fuzzed inputs (seed ${SEED}): the broker stays up, its memory bounded, and a well-behaved client is served throughout`, async (t) => {
  t.comment(`FUZZ_SEED=${SEED} FUZZ_INPUTS=${INPUTS} replays this run`);
  const broker = await startCli(t, ['--port', '0', '--host', '127.0.0.1', '--data-dir', t.testdir(), '--handshake-timeout', '1']);
  const pid = broker.child.pid!;
  const died = new Promise<never>((_, reject) => broker.child.once('exit', (code, signal) => reject(new Error(`the broker exited (${signal ?? `code ${code}`})`))));
  died.catch(() => {});
  const bystander = await amqp.connect(`amqp://guest:guest@127.0.0.1:${broker.port}`);
  t.teardown(() => bystander.close().catch(() => {}));
  const ch = await bystander.createConfirmChannel();
  const { queue } = await ch.assertQueue('', { exclusive: true });
  let checks = 0;
  const roundTrip = async (): Promise<void> => {
    ch.sendToQueue(queue, Buffer.from(`check ${checks}`));
    await ch.waitForConfirms();
    const m = await ch.get(queue, { noAck: true });
    if (m === false || m.content.toString() !== `check ${checks}`) throw new Error(`the bystander's round trip ${checks} failed`);
    checks++;
  };

  const fuzzer = new FrameFuzzer(seeded(SEED));
  let rssAfterWarmUp = 0;
  let sent = 0;
  const started = Date.now();
  const worker = async (): Promise<void> => {
    while (sent < INPUTS) {
      const n = sent++;
      await send(broker.port, fuzzer.input());
      if (n % CHECK_EVERY === CHECK_EVERY - 1) {
        await Promise.race([roundTrip(), died]);
        if (rssAfterWarmUp === 0) rssAfterWarmUp = rssOf(pid);
        if (n % (CHECK_EVERY * 50) === CHECK_EVERY * 50 - 1) t.comment(`${n + 1} inputs, ${Math.round((n + 1) / ((Date.now() - started) / 1000))} a second, RSS ${(rssOf(pid) / 2 ** 20).toFixed(0)} MiB`);
      }
    }
  };
  await Promise.race([Promise.all(Array.from({ length: PARALLEL }, worker)), died]);
  await Promise.race([roundTrip(), died]);
  const rss = rssOf(pid);
  t.equal(broker.child.exitCode, null, 'the broker is still running');
  t.pass(`the bystander's ${checks} round trips all went through`);
  const perInput = (rss - rssAfterWarmUp) / Math.max(1, INPUTS - CHECK_EVERY);
  t.ok(perInput < 2048, `resident memory ${(rssAfterWarmUp / 2 ** 20).toFixed(0)} MiB after ${CHECK_EVERY} inputs, ${(rss / 2 ** 20).toFixed(0)} MiB after ${INPUTS} (${perInput.toFixed(0)} bytes an input; the inputs' declared queues and exchanges stay)`);
  // What the inputs reached, by the broker's own account: the most frequent refusals, with their counts.
  const reached = new Map<string, number>();
  for (const line of broker.lines) {
    const msg = /"msg":"([^"]*)"/.exec(line)?.[1]?.replace(/'[^']*'|\d+/g, '…').slice(0, 90);
    if (msg !== undefined) reached.set(msg, (reached.get(msg) ?? 0) + 1);
  }
  for (const [msg, count] of [...reached].sort((a, b) => b[1] - a[1]).slice(0, 12)) t.comment(`${count}× ${msg}`);
  const fatal = broker.lines.filter((l) => /"level":(50|60)/.test(l) && !/closing connection|refusing/.test(l));
  t.same(fatal.slice(0, 5), [], 'no error logged but the refusals of bad input');
});
