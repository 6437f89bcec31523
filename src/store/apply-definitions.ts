import type { DefaultAccess, Tenancy } from '../auth/tenancy.js';
import type { DelayedMessages } from '../exchange/delayed-messages.js';
import type { AccessOp } from '../auth/access-definitions.js';
import type { Queue } from '../queue/queue.js';
import type { VirtualHost } from '../vhost/virtual-host.js';
import type { DefinitionOp, Definitions, ExchangeDefinition, QueueDefinition } from './definition-records.js';

/** Owner of restored queues: nobody, since exclusive queues are never stored. */
const RESTORE_OWNER = {};

/** The durable queues and delayed exchanges that recovery brought back, by journal id. */
export class RestoredEntities {
  readonly queues = new Map<number, Queue>();
  readonly delayed = new Map<number, DelayedMessages>();
  /** The next journal id to hand out: past every id any record used. */
  nextQueueId = 1;

  constructor(
    private readonly tenancy: Tenancy,
    private readonly defaults: DefaultAccess,
  ) {}

  /** Recreates everything a snapshot lists: vhosts, users and permissions first (the defaults when it has none), then what is in the vhosts. */
  restore(d: Definitions): void {
    this.tenancy.restore(d.access, this.defaults);
    this.nextQueueId = Math.max(this.nextQueueId, d.nextQueueId);
    for (const x of d.exchanges) this.declareExchange(x);
    for (const q of d.queues) this.declareQueue(q);
    for (const b of d.bindings) this.apply({ op: 'bound', binding: b });
  }

  /**
   * Applies one operation of the journal through the same virtual-host
   * methods clients reach (with no store attached, so nothing is written
   * again). Every operation is idempotent: a snapshot taken just before an
   * operation's record may already hold its effect.
   */
  apply(op: DefinitionOp): void {
    if (isAccessOp(op)) return this.tenancy.apply(op);
    // An auto-delete exchange that lost its last durable binding may have lived on, bound to a transient queue; the
    // live run recorded its deletion when it happened, so replay deletes nothing by itself.
    const vhost = this.vhost(vhostOf(op));
    vhost.autoDeleteSuspended = true;
    try {
      this.applyTo(vhost, op);
    } finally {
      vhost.autoDeleteSuspended = false;
    }
  }

  private applyTo(vhost: VirtualHost, op: DefinitionOp): void {
    switch (op.op) {
      case 'exchange.declared':
        return this.declareExchange(op.exchange);
      case 'exchange.deleted': {
        const delayed = vhost.exchanges.get(op.name)?.delayed;
        for (const [id, d] of this.delayed) if (d === delayed) this.delayed.delete(id);
        return vhost.deleteExchange(op.name, false);
      }
      case 'queue.declared':
        return this.declareQueue(op.queue);
      case 'queue.deleted': {
        const q = vhost.queues.get(op.name);
        if (q === undefined || this.queues.get(op.id) !== q) return;
        this.queues.delete(op.id);
        vhost.removeQueue(q);
        return;
      }
      case 'bound':
      case 'unbound': {
        const b = op.binding;
        if (op.op === 'bound' && b.destinationKind === 'queue') vhost.bindQueue(b.source, b.destination, RESTORE_OWNER, b.routingKey, b.arguments);
        else if (op.op === 'bound') vhost.bindExchange(b.source, b.destination, b.routingKey, b.arguments);
        else if (b.destinationKind === 'queue') vhost.unbindQueue(b.source, b.destination, RESTORE_OWNER, b.routingKey, b.arguments);
        else vhost.unbindExchange(b.source, b.destination, b.routingKey, b.arguments);
        return;
      }
    }
  }

  private declareExchange(x: ExchangeDefinition): void {
    const exchange = this.vhost(x.vhost).declareExchange(x.name, { type: x.type, durable: true, autoDelete: x.autoDelete, internal: x.internal, arguments: x.arguments }, false);
    if (x.id === undefined || exchange.delayed === undefined) return;
    this.delayed.set(x.id, exchange.delayed);
    this.nextQueueId = Math.max(this.nextQueueId, x.id + 1);
  }

  private declareQueue(q: QueueDefinition): void {
    const queue = this.vhost(q.vhost).declareQueue(
      { name: q.name, passive: false, durable: true, autoDelete: q.autoDelete, exclusiveOwner: undefined, arguments: q.arguments },
      RESTORE_OWNER,
      true,
    );
    this.queues.set(q.id, queue);
    this.nextQueueId = Math.max(this.nextQueueId, q.id + 1);
  }

  private vhost(name: string): VirtualHost {
    const vhost = this.tenancy.vhosts.get(name);
    if (vhost === undefined) throw new Error(`the definitions name vhost '${name}', which this broker does not have`);
    return vhost;
  }
}

function isAccessOp(op: DefinitionOp): op is AccessOp {
  return op.op.startsWith('vhost.') || op.op.startsWith('user.') || op.op.includes('permission.');
}

function vhostOf(op: Exclude<DefinitionOp, AccessOp>): string {
  switch (op.op) {
    case 'exchange.declared':
      return op.exchange.vhost;
    case 'queue.declared':
      return op.queue.vhost;
    case 'bound':
    case 'unbound':
      return op.binding.vhost;
    default:
      return op.vhost;
  }
}
