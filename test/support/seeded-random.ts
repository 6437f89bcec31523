/** A reproducible stream of numbers in [0, 1) for tests that pick random moments: the seed is printed, so a failure can be replayed. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** Rounds of a fault test: FAULT_ROUNDS in the environment (npm run test:fault) or the quick default. */
export function faultRounds(quick: number): number {
  const n = Number(process.env['FAULT_ROUNDS']);
  return Number.isInteger(n) && n > 0 ? n : quick;
}

/** FAULT_SEED in the environment replays a run; otherwise a fixed one, so `npm test` is deterministic in what it tries. */
export function faultSeed(): number {
  const n = Number(process.env['FAULT_SEED']);
  return Number.isInteger(n) && n > 0 ? n : 20261123;
}
