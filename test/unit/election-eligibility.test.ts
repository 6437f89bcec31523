import t from 'tap';
import { campaignRefusal } from '../../src/failover/election-eligibility.js';
import type { SyncRecord } from '../../src/failover/arbiter-records.js';

// Who may stand for a vacant leader key: only a node that holds every
// message confirmed so far.

const inSync: SyncRecord = { epoch: 4, leader: 'old', inSync: true, standby: 'me' };
const alone: SyncRecord = { epoch: 4, leader: 'old', inSync: false };

t.test('before any election, any node whose journal is its own may stand; a mirror may not (etcd was wiped: only the node it mirrored knows what it confirmed)', async (t) => {
  t.equal(campaignRefusal(undefined, 'me', { kind: 'not a mirror', epoch: 0 }), undefined);
  t.equal(campaignRefusal(undefined, 'me', { kind: 'not a mirror', epoch: 5 }), undefined);
  t.match(campaignRefusal(undefined, 'me', { kind: 'in sync', epoch: 5 }), /etcd holds no in-sync record, and this node's journal is a mirror \(in sync\)/);
  t.match(campaignRefusal(undefined, 'me', { kind: 'last complete, set aside by a sync cut short', epoch: 5 }), /is a mirror/);
  t.match(campaignRefusal(undefined, 'me', { kind: 'partial sync', epoch: 0 }), /part of a sync/);
});

t.test('the last leader may stand again, whether it confirmed alone or not', async (t) => {
  t.equal(campaignRefusal(alone, 'old', { kind: 'not a mirror', epoch: 4 }), undefined);
  t.equal(campaignRefusal(inSync, 'old', { kind: 'not a mirror', epoch: 4 }), undefined);
});

t.test('the standby recorded in sync may stand, from a complete sync of that epoch', async (t) => {
  t.equal(campaignRefusal(inSync, 'me', { kind: 'in sync', epoch: 4 }), undefined);
  t.equal(campaignRefusal(inSync, 'me', { kind: 'last complete, set aside by a sync cut short', epoch: 4 }), undefined);
  t.match(campaignRefusal(inSync, 'me', { kind: 'in sync', epoch: 3 }), /complete sync is of epoch 3/);
  t.match(campaignRefusal(inSync, 'me', { kind: 'not a mirror', epoch: 4 }), /its journal is not a mirror/);
  t.match(campaignRefusal(inSync, 'me', { kind: 'partial sync', epoch: 4 }), /part of a sync/);
});

t.test('no other node may stand: a standby the leader recorded out of sync, or another standby', async (t) => {
  t.match(campaignRefusal(alone, 'me', { kind: 'in sync', epoch: 4 }), /old led epoch 4 with no standby in sync/);
  t.match(campaignRefusal(inSync, 'someone else', { kind: 'in sync', epoch: 4 }), /old led epoch 4 with me in sync/);
});
