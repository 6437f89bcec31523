/**
 * 32-bit hashing for consistent-hash routing: MurmurHash3's mixing steps over
 * a string's UTF-16 code units (no encoding to bytes, no allocation). Stable
 * across runs and machines, so a key goes to the same queue after a restart.
 */
export function hashString(s: string, seed = 0): number {
  let h = seed | 0;
  for (let i = 0; i < s.length; i++) {
    let k = Math.imul(s.charCodeAt(i), 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  return finalMix(h ^ s.length);
}

/**
 * A pseudo-random number in (0, 1) drawn from a key's hash and a binding's
 * seed: for a fixed seed it is uniform over keys, and draws for different
 * seeds behave as independent.
 */
export function uniformDraw(keyHash: number, seed: number): number {
  return (finalMix((finalMix(keyHash ^ seed) + seed) | 0) + 0.5) / 2 ** 32;
}

/** MurmurHash3's finaliser: every input bit affects every output bit. */
function finalMix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
