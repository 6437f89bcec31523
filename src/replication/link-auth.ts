import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The replication link's handshake: a challenge-response over HMAC-SHA256
 * keyed with the cluster secret, each side proving it knows the secret
 * without sending it. The primary challenges with a nonce; the standby
 * answers with its own nonce and the MAC of both; the primary proves itself
 * with the MAC of both in the other order. A recorded handshake is of no use
 * later: every nonce is fresh.
 */
export const NONCE_SIZE = 32;
const MAC_SIZE = 32;

export function newNonce(): Buffer {
  return randomBytes(NONCE_SIZE);
}

function mac(secret: string, role: 'standby' | 'primary', first: Buffer, second: Buffer): Buffer {
  return createHmac('sha256', secret).update(role).update(first).update(second).digest();
}

/** What the standby sends back: its nonce, then its MAC. */
export function standbyResponse(secret: string, challenge: Buffer): Buffer {
  const nonce = newNonce();
  return Buffer.concat([nonce, mac(secret, 'standby', challenge, nonce)]);
}

/** The standby's nonce when its response proves the secret; undefined when it does not. */
export function checkStandbyResponse(secret: string, challenge: Buffer, response: Buffer): Buffer | undefined {
  if (response.length !== NONCE_SIZE + MAC_SIZE) return undefined;
  const nonce = response.subarray(0, NONCE_SIZE);
  return timingSafeEqual(response.subarray(NONCE_SIZE), mac(secret, 'standby', challenge, nonce)) ? nonce : undefined;
}

export function primaryProof(secret: string, challenge: Buffer, standbyNonce: Buffer): Buffer {
  return mac(secret, 'primary', standbyNonce, challenge);
}

export function checkPrimaryProof(secret: string, challenge: Buffer, standbyNonce: Buffer, proof: Buffer): boolean {
  return proof.length === MAC_SIZE && timingSafeEqual(proof, primaryProof(secret, challenge, standbyNonce));
}
