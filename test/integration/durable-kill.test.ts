import t from 'tap';
import { delay, within } from '../support/broker.js';
import { startBrokerProcess, tempDataDir } from '../support/data-dir.js';
import { checkLedger, declareTopology, drainAll, newLedger, startLoad } from '../support/durable-load.js';
import { faultRounds, faultSeed, seeded } from '../support/seeded-random.js';

// The broker process killed with SIGKILL at random moments while publishers
// with confirms and an acking consumer work on it: after each restart on the
// same data directory, no confirmed message is missing and none appears that
// was never published. `npm run test:fault` runs more rounds.

const ROUNDS = faultRounds(4);
const SEED = faultSeed();
const LOAD = { publishers: 3, perPublisher: 600, window: 64 };

t.test(`SIGKILL at random moments loses no confirmed message (${ROUNDS} rounds, FAULT_SEED=${SEED})`, async (t) => {
  const random = seeded(SEED);
  const dataDir = tempDataDir(t, 'durable-kill-');
  const ledger = newLedger();

  for (let round = 0; round < ROUNDS; round++) {
    const broker = await startBrokerProcess(t, dataDir);
    if (round === 0) await declareTopology(broker.port);
    const load = startLoad(broker.port, `round ${round}`, LOAD, ledger);
    await delay(20 + random() * 400);
    broker.child.kill('SIGKILL');
    // The next broker needs the data directory: the LOCK names this process until it is gone.
    await within(broker.exited, 10_000, 'the killed broker exits');
    await load.stop();
  }

  const broker = await startBrokerProcess(t, dataDir);
  await drainAll(broker.port, ledger);
  broker.child.kill('SIGTERM');
  t.equal(await within(broker.exited, 10_000, 'the last broker exits'), 0, 'the last broker shuts down cleanly');
  checkLedger(t, ledger);
});
