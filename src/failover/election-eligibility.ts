import type { PromotionSource } from '../replication/standby-directory.js';
import type { SyncRecord } from './arbiter-records.js';

/**
 * Why this node may not campaign for the vacant leader key (undefined: it
 * may). Only a node that holds every message confirmed so far may lead:
 * the last leader (its own journal: it may have confirmed alone), or the
 * standby etcd records as in sync with it, from the complete sync it holds
 * of that very epoch. Before any election (no record), any node whose
 * journal is its own, not a mirror of another's.
 */
export function campaignRefusal(sync: SyncRecord | undefined, nodeId: string, local: PromotionSource): string | undefined {
  if (local.kind === 'partial sync') return 'this node holds only part of a sync';
  // No record with a mirror's journal: etcd was wiped or replaced, and only the node mirrored knows what it confirmed alone.
  if (sync === undefined && local.kind !== 'not a mirror') return `etcd holds no in-sync record, and this node's journal is a mirror (${local.kind}): only the node it mirrored may start the pair`;
  if (sync === undefined || sync.leader === nodeId) return undefined;
  if (!sync.inSync) return `${sync.leader} led epoch ${sync.epoch} with no standby in sync: only it holds every confirmed message`;
  if (sync.standby !== nodeId) return `${sync.leader} led epoch ${sync.epoch} with ${sync.standby} in sync: only they hold every confirmed message`;
  if (local.kind !== 'in sync' && local.kind !== 'last complete, set aside by a sync cut short') return `etcd records this node in sync in epoch ${sync.epoch}, but its journal is ${local.kind}`;
  if (local.epoch !== sync.epoch) return `etcd records this node in sync in epoch ${sync.epoch}, but its complete sync is of epoch ${local.epoch}`;
  return undefined;
}
