import { join } from 'node:path';
import type { Logger } from 'pino';
import type { DelayedMessages } from '../exchange/delayed-messages.js';
import { Exchange } from '../exchange/exchange.js';
import type { Queue } from '../queue/queue.js';
import { type DurabilityHooks, isDurableBinding, isDurableQueue, type VirtualHost } from '../vhost/virtual-host.js';
import { DataDirLock } from './data-dir-lock.js';
import {
  type BindingDefinition,
  type Definitions,
  EMPTY_DEFINITIONS,
  type ExchangeDefinition,
  parseDefinitions,
  type QueueDefinition,
  serializeDefinitions,
} from './definitions-file.js';
import { DEFAULT_SEGMENT_SIZE, Journal } from './journal.js';
import type { StoreFs } from './store-fs.js';

const DEFINITIONS_FILE = 'definitions.json';
/** Owner of restored queues: nobody, since exclusive queues are never stored. */
const RESTORE_OWNER = {};

export interface DurableStoreOptions {
  readonly segmentSize?: number | undefined;
  readonly epoch?: number;
  readonly compactionLookMs?: number | undefined;
}

/**
 * Everything that survives a restart: the durable definitions and the
 * journal of persistent messages in durable queues. Opening it restores both
 * into the virtual hosts; afterwards the hosts report changes through
 * DurabilityHooks and queues journal through `journal`.
 */
export class DurableStore implements DurabilityHooks {
  private nextQueueId: number;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly dataDir: string,
    private readonly fs: StoreFs,
    private readonly lock: DataDirLock,
    private readonly vhosts: ReadonlyMap<string, VirtualHost>,
    readonly journal: Journal,
    nextQueueId: number,
  ) {
    this.nextQueueId = nextQueueId;
  }

  static async open(
    dataDir: string,
    fs: StoreFs,
    log: Logger,
    vhosts: ReadonlyMap<string, VirtualHost>,
    options: DurableStoreOptions,
    onFailure: (err: Error) => void,
  ): Promise<DurableStore> {
    fs.mkdir(dataDir);
    const lock = DataDirLock.acquire(dataDir);
    try {
      const path = join(dataDir, DEFINITIONS_FILE);
      const definitions = fs.exists(path) ? parseDefinitions(fs.readFile(path), path) : EMPTY_DEFINITIONS;
      const { queues, delayed } = restoreDefinitions(vhosts, definitions);
      const journal = await Journal.open(
        join(dataDir, 'journal'),
        fs,
        log,
        { segmentSize: options.segmentSize ?? DEFAULT_SEGMENT_SIZE, epoch: options.epoch ?? 1, compactionLookMs: options.compactionLookMs },
        (id) => queues.has(id) || delayed.has(id),
        (m) => {
          const location = { segment: m.segment, offset: m.offset };
          for (const id of m.queueIds) {
            const queue = queues.get(id);
            if (queue !== undefined) queue.restore(m.seq, location, m.delivered?.has(id) ?? false, m.priority);
            else delayed.get(id)!.restore(m.seq, location, m.dueAt ?? 0);
          }
        },
        onFailure,
      );
      for (const [id, queue] of queues) {
        queue.restored();
        queue.persistence = { id, journal };
      }
      const store = new DurableStore(dataDir, fs, lock, vhosts, journal, definitions.nextQueueId);
      for (const vhost of vhosts.values()) vhost.durability = store;
      // Last: a held message already due is routed as soon as its exchange is attached, to queues now ready for it.
      for (const [id, d] of delayed) d.attach({ id, journal });
      return store;
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  attachQueue(q: Queue): void {
    q.persistence = { id: this.nextQueueId++, journal: this.journal };
  }

  /** Delayed exchanges take their journal ids from the queues' sequence, so records never confuse the two. */
  attachDelayed(delayed: DelayedMessages): void {
    delayed.attach({ id: this.nextQueueId++, journal: this.journal });
  }

  /** Rewrites definitions.json from the live state; synchronous, so the reply to the client follows it. */
  definitionsChanged(): void {
    this.fs.replaceFile(join(this.dataDir, DEFINITIONS_FILE), serializeDefinitions(this.collect()));
  }

  /** Once only: a store failure closes the broker, and its owner may close it again. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const vhost of this.vhosts.values()) vhost.durability = undefined;
      try {
        await this.journal.close();
      } finally {
        this.lock.release();
      }
    })();
    return this.closing;
  }

  private collect(): Definitions {
    const exchanges: ExchangeDefinition[] = [];
    const queues: QueueDefinition[] = [];
    const bindings: BindingDefinition[] = [];
    for (const vhost of this.vhosts.values()) {
      for (const x of vhost.exchanges.values()) {
        if (!x.options.durable) continue;
        if (!isPredeclared(x.name)) {
          const { type, autoDelete, internal, arguments: args } = x.options;
          const id = x.delayed?.journalId;
          exchanges.push({ vhost: vhost.name, name: x.name, type, autoDelete, internal, arguments: args, ...(id === undefined ? {} : { id }) });
        }
        for (const b of x.router.bindings()) {
          if (!isDurableBinding(x, b.destination)) continue;
          const destinationKind = b.destination instanceof Exchange ? 'exchange' : 'queue';
          bindings.push({ vhost: vhost.name, source: x.name, destination: b.destination.name, destinationKind, routingKey: b.routingKey, arguments: b.args });
        }
      }
      for (const q of vhost.queues.values()) {
        if (!isDurableQueue(q) || q.persistence === undefined) continue;
        queues.push({ vhost: vhost.name, name: q.name, id: q.persistence.id, autoDelete: q.options.autoDelete, arguments: q.options.arguments });
      }
    }
    return { nextQueueId: this.nextQueueId, exchanges, queues, bindings };
  }
}

/** The nameless and amq.* exchanges exist in every vhost from the start. */
function isPredeclared(name: string): boolean {
  return name === '' || name.startsWith('amq.');
}

/** Recreates the stored entities; returns the durable queues and delayed exchanges by journal id. */
function restoreDefinitions(vhosts: ReadonlyMap<string, VirtualHost>, d: Definitions): { queues: Map<number, Queue>; delayed: Map<number, DelayedMessages> } {
  const byId = new Map<number, Queue>();
  const delayed = new Map<number, DelayedMessages>();
  const vhostOf = (name: string): VirtualHost => {
    const vhost = vhosts.get(name);
    if (vhost === undefined) throw new Error(`definitions name vhost '${name}', which this broker does not have`);
    return vhost;
  };
  for (const x of d.exchanges) {
    const exchange = vhostOf(x.vhost).declareExchange(x.name, { type: x.type, durable: true, autoDelete: x.autoDelete, internal: x.internal, arguments: x.arguments }, false);
    if (x.id !== undefined && exchange.delayed !== undefined) delayed.set(x.id, exchange.delayed);
  }
  for (const q of d.queues) {
    const queue = vhostOf(q.vhost).declareQueue(
      { name: q.name, passive: false, durable: true, autoDelete: q.autoDelete, exclusiveOwner: undefined, arguments: q.arguments },
      RESTORE_OWNER,
      true,
    );
    byId.set(q.id, queue);
  }
  for (const b of d.bindings) {
    const vhost = vhostOf(b.vhost);
    if (b.destinationKind === 'queue') vhost.bindQueue(b.source, b.destination, RESTORE_OWNER, b.routingKey, b.arguments);
    else vhost.bindExchange(b.source, b.destination, b.routingKey, b.arguments);
  }
  return { queues: byId, delayed };
}
