import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * RabbitMQ's password hashing modules, by the names its definitions files
 * use. A hash is base64 of a 4-byte random salt followed by the digest of
 * salt and password together, so a hash exported from RabbitMQ checks the
 * same password here.
 */
export const HASHING_ALGORITHMS = {
  rabbit_password_hashing_sha256: 'sha256',
  rabbit_password_hashing_sha512: 'sha512',
  rabbit_password_hashing_md5: 'md5',
} as const;

export type HashingAlgorithm = keyof typeof HASHING_ALGORITHMS;

/** What new passwords are hashed with: RabbitMQ's default. */
export const DEFAULT_HASHING: HashingAlgorithm = 'rabbit_password_hashing_sha256';

const SALT_BYTES = 4;

export function isHashingAlgorithm(name: string): name is HashingAlgorithm {
  return Object.hasOwn(HASHING_ALGORITHMS, name);
}

export function hashPassword(password: string, algorithm: HashingAlgorithm = DEFAULT_HASHING, salt: Buffer = randomBytes(SALT_BYTES)): string {
  return Buffer.concat([salt, digest(algorithm, salt, password)]).toString('base64');
}

/** Whether `password` is the one `hash` was made from; false for a malformed hash. An empty hash matches nothing (a user with no password). */
export function checkPassword(hash: string, algorithm: HashingAlgorithm, password: string): boolean {
  const bytes = Buffer.from(hash, 'base64');
  if (bytes.length <= SALT_BYTES) return false;
  const salt = bytes.subarray(0, SALT_BYTES);
  const expected = bytes.subarray(SALT_BYTES);
  const given = digest(algorithm, salt, password);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function digest(algorithm: HashingAlgorithm, salt: Buffer, password: string): Buffer {
  return createHash(HASHING_ALGORITHMS[algorithm]).update(salt).update(password, 'utf8').digest();
}
