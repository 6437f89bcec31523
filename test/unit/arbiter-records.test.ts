import t from 'tap';
import { ArbiterRecordError, decodeEpoch, decodeLeader, decodeSync, encodeRecord } from '../../src/failover/arbiter-records.js';

// What the pair keeps in etcd: a value that does not check out is refused,
// naming the key, never guessed at.

t.test('records read back as written', async (t) => {
  const leader = { id: 'a1', amqp: 'h:5672', replication: 'h:25672', epoch: 7 };
  t.same(decodeLeader('/p/leader', encodeRecord(leader)), leader);
  const sync = { epoch: 7, leader: 'a1', inSync: true, standby: 'b2' };
  t.same(decodeSync('/p/sync', encodeRecord(sync)), sync);
  t.equal(decodeEpoch('/p/epoch', '7'), 7);
});

t.test('a value that is not a record is refused, naming the key', async (t) => {
  t.throws(() => decodeLeader('/p/leader', 'not json'), new ArbiterRecordError('etcd key /p/leader does not hold a JSON object: not json'));
  t.throws(() => decodeLeader('/p/leader', '{"id":"a","amqp":"h:1","replication":"h:2","epoch":-1}'), /etcd key \/p\/leader is not a leader record/);
  t.throws(() => decodeSync('/p/sync', '{"epoch":1,"leader":"a","inSync":"yes"}'), /etcd key \/p\/sync is not an in-sync record/);
  t.throws(() => decodeEpoch('/p/epoch', '4294967296'), /not an epoch/);
});
