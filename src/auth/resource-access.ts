import { AmqpError } from '../protocol/amqp-error.js';
import { ReplyCode } from '../protocol/generated/amqp-constants.js';
import type { AccessControl, Permission } from './access-control.js';

export type ResourceKind = 'exchange' | 'queue';

/** Exchanges whose write access a connection remembers at most: a client publishing to ever new names must not grow it without end. */
const REMEMBERED_EXCHANGES = 1024;

/**
 * One connection's user in its vhost, as its channels check them: each
 * refusal is 403 ACCESS_REFUSED worded as RabbitMQ words it. Write access to
 * exchanges, checked at every publish, is remembered until permissions change.
 * The default exchange is amq.default to the patterns, as in RabbitMQ.
 */
export class ResourceAccess {
  private readonly writable = new Map<string, boolean>();
  private writableAt = -1;

  constructor(
    private readonly access: AccessControl,
    readonly user: string,
    readonly vhost: string,
  ) {}

  check(permission: Permission, kind: ResourceKind, name: string): void {
    const resource = resourceName(kind, name);
    if (!this.access.permitted(this.user, this.vhost, permission, resource)) throw this.refused(`${kind} '${resource}'`);
  }

  /** Write access to an exchange, for a publish. */
  checkPublish(exchange: string): void {
    if (this.writableAt !== this.access.generation || this.writable.size >= REMEMBERED_EXCHANGES) {
      this.writable.clear();
      this.writableAt = this.access.generation;
    }
    let allowed = this.writable.get(exchange);
    if (allowed === undefined) this.writable.set(exchange, (allowed = this.access.permitted(this.user, this.vhost, 'write', resourceName('exchange', exchange))));
    if (!allowed) throw this.refused(`exchange '${resourceName('exchange', exchange)}'`);
  }

  /** A vhost's max-queues, checked before a queue is created (never when recovery brings queues back). */
  checkQueueLimit(queue: string, queuesNow: number): void {
    const max = this.access.vhostLimit(this.vhost, 'max-queues');
    if (max === undefined || queuesNow < max) return;
    throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `cannot declare queue '${queue}': queue limit in vhost '${this.vhost}' (${max}) is reached`);
  }

  /** A routing key published with (write) or bound with (read) on a topic exchange, against the user's topic permissions. */
  checkTopic(permission: 'write' | 'read', exchange: { readonly name: string; readonly type: string }, routingKey: string): void {
    if (exchange.type !== 'topic' || this.access.topicPermitted(this.user, this.vhost, exchange.name, permission, routingKey)) return;
    throw this.refused(`topic '${routingKey}' in exchange '${exchange.name}'`);
  }

  private refused(resource: string): AmqpError {
    return new AmqpError(ReplyCode.ACCESS_REFUSED, `access to ${resource} in vhost '${this.vhost}' refused for user '${this.user}'`);
  }
}

/** RabbitMQ checks and names the nameless default exchange as amq.default. */
function resourceName(kind: ResourceKind, name: string): string {
  return kind === 'exchange' && name === '' ? 'amq.default' : name;
}
