/**
 * What the broker pair keeps in etcd, under one key prefix per pair
 * (spec/failover.md): who leads, in which epoch, and whether its standby is
 * in sync. Values are JSON; a value that does not check out is refused
 * loudly rather than guessed at.
 */

/** A node as the other nodes and clients reach it. */
export interface NodeAddress {
  /** The data directory's identity (node-identity.ts): a wiped directory is a new node. */
  readonly id: string;
  /** Where clients connect (host:port), for the standby's refusal message. */
  readonly amqp: string;
  /** Where a standby connects (host:port). */
  readonly replication: string;
}

/** The leader key's value, held under the leader's lease. */
export interface LeaderRecord extends NodeAddress {
  readonly epoch: number;
}

/**
 * The in-sync record: written by the leader of `epoch` only. A standby may
 * take over only while it names that standby as in sync; the leader writes
 * "not in sync" before it confirms anything without the standby.
 */
export interface SyncRecord {
  readonly epoch: number;
  readonly leader: string;
  readonly inSync: boolean;
  /** The standby in sync (only when inSync). */
  readonly standby?: string | undefined;
}

export class ArbiterRecordError extends Error {}

export function encodeRecord(record: LeaderRecord | SyncRecord): string {
  return JSON.stringify(record);
}

export function decodeLeader(key: string, raw: string): LeaderRecord {
  const value = parse(key, raw);
  const { id, amqp, replication, epoch } = value;
  if (typeof id !== 'string' || typeof amqp !== 'string' || typeof replication !== 'string' || !isEpoch(epoch)) {
    throw new ArbiterRecordError(`etcd key ${key} is not a leader record: ${raw.slice(0, 200)}`);
  }
  return { id, amqp, replication, epoch };
}

export function decodeSync(key: string, raw: string): SyncRecord {
  const value = parse(key, raw);
  const { epoch, leader, inSync, standby } = value;
  if (!isEpoch(epoch) || typeof leader !== 'string' || typeof inSync !== 'boolean' || (standby !== undefined && typeof standby !== 'string')) {
    throw new ArbiterRecordError(`etcd key ${key} is not an in-sync record: ${raw.slice(0, 200)}`);
  }
  return { epoch, leader, inSync, standby };
}

export function decodeEpoch(key: string, raw: string): number {
  const epoch = Number(raw);
  if (!isEpoch(epoch)) throw new ArbiterRecordError(`etcd key ${key} is not an epoch: ${raw.slice(0, 200)}`);
  return epoch;
}

/** Epochs are u32 in every journal record. */
function isEpoch(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}

function parse(key: string, raw: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(raw);
    if (typeof value === 'object' && value !== null) return value as Record<string, unknown>;
  } catch {
    // Reported below, with the key.
  }
  throw new ArbiterRecordError(`etcd key ${key} does not hold a JSON object: ${raw.slice(0, 200)}`);
}

/** The in-sync record in words, for the logs and the ctl tool. */
export function describeSync(sync: SyncRecord | undefined): string {
  if (sync === undefined) return 'none (no leader elected yet)';
  return sync.inSync ? `standby ${sync.standby} in sync with ${sync.leader} in epoch ${sync.epoch}` : `${sync.leader} confirms alone in epoch ${sync.epoch} (no standby in sync)`;
}
