import t from 'tap';
import { type Broker, startBroker } from '../../src/index.js';
import { within } from '../support/broker.js';
import { CrashFs } from '../support/crash-fs.js';
import { tempDataDir } from '../support/data-dir.js';
import { checkLedger, declareTopology, drainAll, newLedger, startLoad } from '../support/durable-load.js';
import { faultRounds, faultSeed, seeded } from '../support/seeded-random.js';

// A power loss under a working broker: its store is an in-memory disk that,
// at a random write, fsync or unlink, forgets everything not yet synced (and
// may keep some of it, torn). The broker that was running can touch that
// disk no more; a new one boots from what is left. Every publish confirmed
// before the crash must be there. Unlike SIGKILL, this catches a confirm sent
// before its fdatasync. `npm run test:fault` runs more rounds.

const ROUNDS = faultRounds(5);
const SEED = faultSeed();
const CRASHES_PER_ROUND = 3;
const LOAD = { publishers: 2, perPublisher: 300, window: 32 };
/** Small segments, so rotation and the deletion of emptied segments happen often. */
const SEGMENT_SIZES = [4096, 16_384, 65_536];

t.test(`a power loss at a random disk change loses no confirmed message (${ROUNDS} rounds, FAULT_SEED=${SEED})`, async (t) => {
  let underTraffic = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const random = seeded(SEED + round);
    const disk = new CrashFs(random);
    const dataDir = tempDataDir(t, 'power-loss-');
    const segmentSize = SEGMENT_SIZES[round % SEGMENT_SIZES.length]!;
    // Compaction looks often, so it copies and deletes segments while the power goes out.
    const boot = (): Promise<Broker> => startBroker({ dataDir, storeFs: disk.mount(), segmentSize, compactionLookMs: 20, logLevel: 'silent' });
    const ledger = newLedger();
    let broker = await boot();
    await declareTopology(broker.port);

    for (let crash = 0; crash < CRASHES_PER_ROUND; crash++) {
      const keepSomeUnsynced = random() < 0.7;
      let crashed = false;
      const powerLoss = disk.crashAt(1 + Math.floor(random() * 1500), keepSomeUnsynced).then(() => void (crashed = true));
      const load = startLoad(broker.port, `${round}.${crash}`, LOAD, ledger);
      // The publishers stop at their quota; if the armed change never came, the power goes out at rest.
      await Promise.race([powerLoss, load.publishersDone]);
      if (crashed) underTraffic++;
      else disk.crash(keepSomeUnsynced);
      // The old broker fails on its dead disk and closes itself; closing it here as well waits for that.
      await within(broker.close(), 10_000, 'the broker on the dead disk closes');
      await load.stop();
      broker = await boot();
    }

    await drainAll(broker.port, ledger);
    await broker.close();
    t.test(`round ${round}: segment size ${segmentSize}`, async (t) => checkLedger(t, ledger));
  }
  t.comment(`${underTraffic} of ${ROUNDS * CRASHES_PER_ROUND} power losses came at an armed disk change, the rest at rest`);
});
