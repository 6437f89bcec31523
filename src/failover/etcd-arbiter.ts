import { Etcd3, isRecoverableError, type IKeyValue } from 'etcd3';
import { ConstantBackoff, handleWhen, noop, retry } from 'cockatiel';
import { decodeEpoch, decodeLeader, decodeSync, encodeRecord, type LeaderRecord, type SyncRecord } from './arbiter-records.js';

/** What etcd holds for the pair, with the revisions a later transaction compares against. */
export interface ArbiterState {
  readonly leader: (LeaderRecord & { readonly revision: string; readonly lease: string }) | undefined;
  readonly sync: SyncRecord | undefined;
  readonly syncRevision: string;
  /** The newest epoch ever granted (0: none yet). */
  readonly epoch: number;
  readonly epochRevision: string;
}

export interface ArbiterOptions {
  readonly hosts: readonly string[];
  /** Every key of the pair starts with it, so one etcd serves several pairs. */
  readonly prefix: string;
  /** A request to etcd that takes longer has failed. */
  readonly requestTimeoutMs: number;
}

/**
 * The broker pair's one way to etcd: reads its keys, grants and renews
 * leases, and changes the keys only in transactions that compare what they
 * rely on, so two nodes can never both win, and a leader that lost its key
 * can never write. etcd3's own retries and circuit breaker are off: the
 * callers keep time on their own clock and try again themselves.
 */
export class EtcdArbiter {
  private readonly client: Etcd3;
  private readonly prefix: string;
  private readonly keys: { readonly leader: string; readonly sync: string; readonly epoch: string };

  constructor(private readonly options: ArbiterOptions) {
    const { hosts, requestTimeoutMs } = options;
    this.client = new Etcd3({
      hosts: [...hosts],
      dialTimeout: requestTimeoutMs,
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + requestTimeoutMs }),
      faultHandling: {
        host: () => noop,
        // With several etcd members, a request that fails on one goes to the next at once.
        global: hosts.length > 1 ? retry(handleWhen(isRecoverableError), { maxAttempts: hosts.length - 1, backoff: new ConstantBackoff(0) }) : noop,
      },
      grpcOptions: {
        // etcd back after an outage is noticed within a second, not after gRPC's default backoff of up to two minutes.
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
      },
    });
    const prefix = options.prefix.endsWith('/') ? options.prefix : `${options.prefix}/`;
    this.prefix = prefix;
    this.keys = { leader: `${prefix}leader`, sync: `${prefix}sync`, epoch: `${prefix}epoch` };
  }

  get description(): string {
    return `${this.options.hosts.join(',')} (prefix ${this.prefix})`;
  }

  async read(): Promise<ArbiterState> {
    const response = await this.client.getAll().prefix(this.prefix).exec();
    const found = new Map<string, IKeyValue>(response.kvs.map((kv) => [kv.key.toString(), kv]));
    const leader = found.get(this.keys.leader);
    const sync = found.get(this.keys.sync);
    const epoch = found.get(this.keys.epoch);
    return {
      leader: leader === undefined ? undefined : { ...decodeLeader(this.keys.leader, leader.value.toString()), revision: leader.create_revision, lease: leader.lease },
      sync: sync === undefined ? undefined : decodeSync(this.keys.sync, sync.value.toString()),
      syncRevision: sync?.mod_revision ?? '0',
      epoch: epoch === undefined ? 0 : decodeEpoch(this.keys.epoch, epoch.value.toString()),
      epochRevision: epoch?.mod_revision ?? '0',
    };
  }

  /** A new lease; its TTL in seconds as etcd granted it (etcd may raise a short one to its minimum). */
  async grantLease(ttlSeconds: number): Promise<{ readonly id: string; readonly ttlSeconds: number }> {
    const granted = await this.client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 });
    return { id: granted.ID, ttlSeconds: Number(granted.TTL) };
  }

  /** Renews a lease once; its remaining TTL in seconds (0 or less: it has expired). Fails after the request timeout, whatever hangs. */
  keepAlive(leaseId: string): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      let settled = false;
      let end = (): void => {};
      const settle = (outcome: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        end();
        outcome();
      };
      const timer = setTimeout(() => settle(() => reject(new Error(`no answer from etcd in ${this.options.requestTimeoutMs} ms`))), this.options.requestTimeoutMs);
      this.client.leaseClient.leaseKeepAlive().then(
        (stream) => {
          // cancel(), not end(): a call etcd never answered must not stay open.
          end = () => stream.cancel();
          if (settled) return end();
          stream.on('data', (response: { TTL: string }) => settle(() => resolve(Number(response.TTL))));
          stream.on('error', (err: Error) => settle(() => reject(err)));
          stream.write({ ID: leaseId });
        },
        (err: Error) => settle(() => reject(err)),
      );
    });
  }

  async revokeLease(leaseId: string): Promise<void> {
    await this.client.leaseClient.leaseRevoke({ ID: leaseId });
  }

  /**
   * Takes the leader key under `leaseId` in `leader.epoch`, if nobody holds
   * it and the in-sync record and the epoch are still what `seen` read; the
   * new in-sync record says the leader confirms alone (it has no standby
   * yet). The leader key's create revision when this node won.
   */
  async campaign(leaseId: string, leader: LeaderRecord, seen: ArbiterState): Promise<string | undefined> {
    const { client, keys } = this;
    const result = await client
      .if(keys.leader, 'Create', '==', 0)
      .and(keys.sync, 'Mod', '==', seen.syncRevision)
      .and(keys.epoch, 'Mod', '==', seen.epochRevision)
      .then(
        client.put(keys.leader).value(encodeRecord(leader)).lease(leaseId),
        client.put(keys.epoch).value(String(leader.epoch)),
        client.put(keys.sync).value(encodeRecord({ epoch: leader.epoch, leader: leader.id, inSync: false })),
      )
      .commit();
    return result.succeeded ? result.header.revision : undefined;
  }

  /** Writes the in-sync record, only while the leader key is still the one created at `leaderRevision`: false when it is not. */
  async recordSync(leaderRevision: string, sync: SyncRecord): Promise<boolean> {
    const { client, keys } = this;
    const result = await client.if(keys.leader, 'Create', '==', leaderRevision).then(client.put(keys.sync).value(encodeRecord(sync))).commit();
    return result.succeeded;
  }

  /** Gives the leader key up (a clean shutdown), only if it is still the one created at `leaderRevision`. */
  async resign(leaderRevision: string): Promise<void> {
    const { client, keys } = this;
    await client.if(keys.leader, 'Create', '==', leaderRevision).then(client.delete().key(keys.leader)).commit();
  }

  close(): void {
    this.client.close();
  }
}
