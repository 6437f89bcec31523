import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AccessOp } from '../auth/access-definitions.js';
import type { DefaultAccess, Tenancy } from '../auth/tenancy.js';
import type { DelayedMessages } from '../exchange/delayed-messages.js';
import { type Destination, Exchange } from '../exchange/exchange.js';
import type { FieldTable } from '../protocol/field-value.js';
import type { Queue } from '../queue/queue.js';
import { type DurabilityHooks, isDurableBinding, isDurableQueue, isPredeclaredExchange, type VirtualHost } from '../vhost/virtual-host.js';
import { RestoredEntities } from './apply-definitions.js';
import { DataDirLock } from './data-dir-lock.js';
import { type BindingDefinition, type Definitions, type ExchangeDefinition, type QueueDefinition, writeSnapshot } from './definition-records.js';
import { openDefinitions } from './open-definitions.js';
import { DEFAULT_SEGMENT_SIZE, Journal } from './journal.js';
import type { StoreFs } from './store-fs.js';

export interface DurableStoreOptions {
  readonly segmentSize?: number | undefined;
  /** A promotion: records are written in the epoch after the newest one the journal holds. */
  readonly newEpoch?: boolean | undefined;
  /** An elected promotion: records are written in the epoch etcd granted (newer than any the journal holds). */
  readonly epoch?: number | undefined;
  readonly compactionLookMs?: number | undefined;
  /** Move damaged or unmatched data aside and start with what is readable, rather than refuse to start. */
  readonly forceRecover?: boolean | undefined;
}

/**
 * Everything that survives a restart, in one journal: durable exchanges,
 * queues and bindings as definition records, persistent messages in durable
 * queues as message records. Opening it restores both into the virtual
 * hosts; afterwards the hosts report each durable change through
 * DurabilityHooks, and queues journal their messages through `journal`.
 */
export class DurableStore implements DurabilityHooks {
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly lock: DataDirLock,
    private readonly tenancy: Tenancy,
    private readonly ids: StoredIds,
    readonly journal: Journal,
  ) {}

  /** `defaults`: the vhost and user a first start creates (and a data directory of an earlier version, which had no others). */
  static async open(
    dataDir: string,
    fs: StoreFs,
    log: Logger,
    tenancy: Tenancy,
    defaults: DefaultAccess,
    options: DurableStoreOptions,
    onFailure: (err: Error) => void,
  ): Promise<DurableStore> {
    fs.mkdir(dataDir);
    const lock = DataDirLock.acquire(dataDir);
    try {
      const journalDir = join(dataDir, 'journal');
      fs.mkdir(journalDir);
      const restored = new RestoredEntities(tenancy, defaults);
      const opened = await openDefinitions(dataDir, journalDir, fs, log, restored, options.forceRecover === true);
      const ids = new StoredIds(restored);
      const { queues, delayed } = restored;
      const journal = await Journal.open(
        journalDir,
        fs,
        log,
        { segmentSize: options.segmentSize ?? DEFAULT_SEGMENT_SIZE, newEpoch: options.newEpoch, epoch: options.epoch, compactionLookMs: options.compactionLookMs, forceRecover: options.forceRecover },
        {
          isQueue: (id) => queues.has(id) || delayed.has(id),
          restore: (m) => {
            const location = { segment: m.segment, offset: m.offset };
            for (const id of m.queueIds) {
              const queue = queues.get(id);
              if (queue !== undefined) queue.restore(m.seq, location, m.delivered?.has(id) ?? false, m.priority);
              else delayed.get(id)!.restore(m.seq, location, m.dueAt ?? 0);
            }
          },
          isRetired: (segment) => opened.retired.has(segment),
          writeSnapshot: (e) => writeSnapshot(e, collectDefinitions(tenancy, ids)),
          onFailure,
        },
      );
      // Once the journal's snapshot holds what a legacy definitions file had (on a full disk, only once it is written).
      if (journal.writeFailure === undefined) await opened.imported();
      else journal.afterDurable(() => void opened.imported().catch((err: unknown) => log.error({ err }, 'could not rename the imported definitions file')));
      for (const [id, queue] of queues) {
        queue.restored();
        queue.persistence = { id, journal };
      }
      const store = new DurableStore(lock, tenancy, ids, journal);
      tenancy.durability = store;
      // Last: a held message already due is routed as soon as its exchange is attached, to queues now ready for it.
      for (const [id, d] of delayed) d.attach({ id, journal });
      return store;
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  queueDeclared(vhost: VirtualHost, q: Queue): void {
    const id = this.ids.newQueue(q);
    q.persistence = { id, journal: this.journal };
    this.journal.appendDefinition({ op: 'queue.declared', queue: queueDefinition(vhost, q, id) });
  }

  queueDeleted(vhost: VirtualHost, q: Queue): void {
    const id = this.ids.forgetQueue(q);
    if (id !== undefined) this.journal.appendDefinition({ op: 'queue.deleted', vhost: vhost.name, name: q.name, id });
  }

  exchangeDeclared(vhost: VirtualHost, x: Exchange): void {
    if (x.delayed !== undefined) x.delayed.attach({ id: this.ids.newDelayed(x.delayed), journal: this.journal });
    this.journal.appendDefinition({ op: 'exchange.declared', exchange: exchangeDefinition(vhost, x, this.ids) });
  }

  exchangeDeleted(vhost: VirtualHost, x: Exchange): void {
    if (x.delayed !== undefined) this.ids.forgetDelayed(x.delayed);
    this.journal.appendDefinition({ op: 'exchange.deleted', vhost: vhost.name, name: x.name });
  }

  bound(vhost: VirtualHost, source: Exchange, destination: Destination, routingKey: string, args: FieldTable): void {
    this.journal.appendDefinition({ op: 'bound', binding: bindingDefinition(vhost, source, destination, routingKey, args) });
  }

  unbound(vhost: VirtualHost, source: Exchange, destination: Destination, routingKey: string, args: FieldTable): void {
    this.journal.appendDefinition({ op: 'unbound', binding: bindingDefinition(vhost, source, destination, routingKey, args) });
  }

  /**
   * Journals a change of vhosts, users or permissions, already applied;
   * resolves once it is on disk, rejects when the disk refused it (the
   * journal retries the write, so the caller takes the change back).
   */
  recordAccess(op: AccessOp): Promise<void> {
    this.journal.appendDefinition(op);
    return new Promise((resolve, reject) =>
      this.journal.whenDurable({
        settle: (_seq, ok) => (ok ? resolve() : reject(new Error(`could not store it: ${this.journal.writeFailure?.message ?? this.journal.failure?.message ?? 'the journal failed'}`))),
      }),
    );
  }

  /** Once only: a store failure closes the broker, and its owner may close it again. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.tenancy.durability = undefined;
      try {
        await this.journal.close();
      } finally {
        this.lock.release();
      }
    })();
    return this.closing;
  }

}

/**
 * The journal ids of durable queues and delayed exchanges. Kept here rather
 * than read from the queues, so the snapshot written while the journal opens
 * (before restored queues are attached to it) names them all.
 */
export class StoredIds {
  private readonly queueIds = new Map<Queue, number>();
  private readonly delayedIds = new Map<DelayedMessages, number>();
  private next: number;

  constructor(restored: RestoredEntities) {
    for (const [id, q] of restored.queues) this.queueIds.set(q, id);
    for (const [id, d] of restored.delayed) this.delayedIds.set(d, id);
    this.next = restored.nextQueueId;
  }

  get nextId(): number {
    return this.next;
  }

  queue(q: Queue): number | undefined {
    return this.queueIds.get(q);
  }

  delayed(d: DelayedMessages): number | undefined {
    return this.delayedIds.get(d);
  }

  /** Delayed exchanges take their ids from the queues' sequence, so records never confuse the two; ids are never reused. */
  newQueue(q: Queue): number {
    const id = this.next++;
    this.queueIds.set(q, id);
    return id;
  }

  newDelayed(d: DelayedMessages): number {
    const id = this.next++;
    this.delayedIds.set(d, id);
    return id;
  }

  forgetQueue(q: Queue): number | undefined {
    const id = this.queueIds.get(q);
    this.queueIds.delete(q);
    return id;
  }

  forgetDelayed(d: DelayedMessages): void {
    this.delayedIds.delete(d);
  }
}

/** Every durable definition as it stands now: the snapshot that starts each journal segment. */
export function collectDefinitions(tenancy: Tenancy, ids: StoredIds): Definitions {
  const exchanges: ExchangeDefinition[] = [];
  const queues: QueueDefinition[] = [];
  const bindings: BindingDefinition[] = [];
  for (const vhost of tenancy.vhosts.values()) {
    for (const x of vhost.exchanges.values()) {
      if (!x.options.durable) continue;
      if (!isPredeclaredExchange(x.name)) exchanges.push(exchangeDefinition(vhost, x, ids));
      for (const b of x.router.bindings()) {
        if (isDurableBinding(x, b.destination)) bindings.push(bindingDefinition(vhost, x, b.destination, b.routingKey, b.args));
      }
    }
    for (const q of vhost.queues.values()) {
      const id = ids.queue(q);
      if (isDurableQueue(q) && id !== undefined) queues.push(queueDefinition(vhost, q, id));
    }
  }
  return { nextQueueId: ids.nextId, exchanges, queues, bindings, access: tenancy.collect() };
}

function exchangeDefinition(vhost: VirtualHost, x: Exchange, ids: StoredIds): ExchangeDefinition {
  const { type, autoDelete, internal, arguments: args } = x.options;
  const id = x.delayed === undefined ? undefined : ids.delayed(x.delayed);
  return { vhost: vhost.name, name: x.name, type, autoDelete, internal, arguments: args, id };
}

function queueDefinition(vhost: VirtualHost, q: Queue, id: number): QueueDefinition {
  return { vhost: vhost.name, name: q.name, id, autoDelete: q.options.autoDelete, arguments: q.options.arguments };
}

function bindingDefinition(vhost: VirtualHost, source: Exchange, destination: Destination, routingKey: string, args: FieldTable): BindingDefinition {
  const destinationKind = destination instanceof Exchange ? 'exchange' : 'queue';
  return { vhost: vhost.name, source: source.name, destination: destination.name, destinationKind, routingKey, arguments: args };
}
