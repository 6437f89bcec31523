import * as amqp from 'amqplib';
import t from 'tap';
import { delay, eventually, within } from '../support/broker.js';
import { runCtl, shortDataDir } from '../support/cli-process.js';
import { checkLedger, declareTopology, drainAll, newLedger, startLoad } from '../support/durable-load.js';
import { replicationPortOf, startNodeProcess, waitForLine } from '../support/replication.js';

// Primary and standby as the command line runs them, with real signals: a
// paused standby must not stall the primary past the replication timeout,
// and a primary stopped with SIGTERM leaves its standby everything it
// confirmed.

const TIMEOUT_MS = 1000;

async function startPairProcesses(t: Parameters<typeof startNodeProcess>[0], policy: 'hold' | 'alone') {
  const primaryDir = shortDataDir(t);
  const standbyDir = shortDataDir(t);
  const primary = await startNodeProcess(t, primaryDir, ['--replication-port', '0', '--replication-policy', policy, '--replication-timeout', String(TIMEOUT_MS)]);
  const port = await replicationPortOf(primary);
  const standby = await startNodeProcess(t, standbyDir, ['--standby-of', `127.0.0.1:${port}`, '--replication-port', '0', '--replication-timeout', String(TIMEOUT_MS)]);
  await waitForLine(standby, 'in sync with the primary', 20_000);
  return { primary, standby, primaryDir, standbyDir };
}

/** Publishes persistent messages with confirms, at most `window` unconfirmed, counting confirms, until stopped. */
function confirmingPublisher(channel: amqp.ConfirmChannel, window: number): { confirmed(): number; stop(): Promise<void> } {
  let confirmed = 0;
  let inflight = 0;
  let running = true;
  const done = (async () => {
    for (let n = 0; running; n++) {
      if (inflight >= window) {
        await delay(2);
        continue;
      }
      inflight++;
      channel.sendToQueue('q', Buffer.from(`m${n}`), { persistent: true }, (err) => {
        inflight--;
        if (!err) confirmed++;
      });
      if (n % 20 === 0) await delay(1);
    }
  })();
  return { confirmed: () => confirmed, stop: async () => ((running = false), await done) };
}

for (const policy of ['alone', 'hold'] as const) {
  t.test(`a SIGSTOPped standby is dropped within the timeout; under ${policy} publishers ${policy === 'alone' ? 'go on' : 'wait for it'}`, async (t) => {
    const { primary, standby } = await startPairProcesses(t, policy);
    const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${primary.port}`);
    connection.on('error', () => {});
    t.teardown(() => connection.close().catch(() => {}));
    const ch = await connection.createConfirmChannel();
    await ch.assertQueue('q', { durable: true });
    const publisher = confirmingPublisher(ch, 50);
    await eventually(() => publisher.confirmed() > 200, 10_000, 'confirms flow with the standby in sync');

    const stoppedAt = Date.now();
    standby.child.kill('SIGSTOP');
    t.teardown(() => void standby.child.kill('SIGCONT'));
    const dropped = await waitForLine(primary, 'standby link dropped', 20_000);
    t.ok(Date.now() - stoppedAt < TIMEOUT_MS + 4000, `dropped ${Date.now() - stoppedAt} ms after the pause (timeout ${TIMEOUT_MS} ms)`);
    const atDrop = publisher.confirmed();
    if (policy === 'alone') {
      await eventually(() => publisher.confirmed() > atDrop + 200, 10_000, 'confirms go on without the standby');
    } else {
      await delay(500);
      const settled = publisher.confirmed();
      await delay(1000);
      t.equal(publisher.confirmed(), settled, 'no confirm while the standby is away');
    }
    const before = publisher.confirmed();
    standby.child.kill('SIGCONT');
    await waitForLine(primary, 'the standby is in sync', 30_000, dropped);
    await eventually(() => publisher.confirmed() > before + 200, 20_000, 'confirms flow again once it is back in sync');
    await publisher.stop();
  });
}

t.test('SIGTERM of the primary under load leaves the standby every confirmed message; promoted with the ctl tool, it serves them', async (t) => {
  const { primary, standby, standbyDir } = await startPairProcesses(t, 'hold');
  await declareTopology(primary.port);
  const ledger = newLedger();
  const load = startLoad(primary.port, 'term', { publishers: 3, perPublisher: 2000, window: 64 }, ledger);
  await eventually(() => ledger.confirmed.size > 500, 20_000, 'some messages confirmed');
  const exited = new Promise<number | null>((resolve) => primary.child.once('exit', resolve));
  primary.child.kill('SIGTERM');
  t.equal(await within(exited, 20_000, 'the primary exits'), 0, 'a clean exit');
  t.ok(primary.lines.some((l) => l.includes('the standby holds everything this primary stored')), 'the primary says the standby holds everything');
  await load.stop();

  const refused = await runCtl(standbyDir, 'detach_standby');
  t.not(refused.code, 0, 'detach is a primary\'s command');
  const promoted = await runCtl(standbyDir, 'promote');
  t.match(promoted, { code: 0, stdout: /Promoted to primary in epoch 2/ });
  t.match((await runCtl(standbyDir, 'replication_status')).stdout, /role\tprimary\nepoch\t2/);
  await drainAll(standby.port, ledger);
  checkLedger(t, ledger);
});
