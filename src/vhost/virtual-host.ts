import { randomBytes } from 'node:crypto';
import { createExchangeRouter, ExchangeType, isExchangeType } from '../exchange/create-exchange-router.js';
import { DelayedMessages } from '../exchange/delayed-messages.js';
import type { ExchangeRouter } from '../exchange/exchange-router.js';
import { type Destination, Exchange, type ExchangeOptions } from '../exchange/exchange.js';
import type { Pager } from '../queue/ready-list.js';
import { AmqpError } from '../protocol/amqp-error.js';
import type { FieldTable } from '../protocol/field-value.js';
import { ReplyCode } from '../protocol/generated/amqp-constants.js';
import type { DeadLetterRouter } from '../queue/dead-letter.js';
import { Queue, type QueueOptions } from '../queue/queue.js';
import {
  assertArgumentsEquivalent,
  assertFlagsEquivalent,
  COMPARED_EXCHANGE_ARGUMENTS,
  typeName,
} from './equivalence.js';
import { routeDelayed } from './delayed-routing.js';
import { assertExchangeArguments } from './exchange-arguments.js';
import { comparedQueueArguments, validateNewQueue } from './queue-arguments.js';
import { Router } from './router.js';

/** The nameless and amq.* exchanges exist in every vhost from the start: never declared, deleted or stored. */
export function isPredeclaredExchange(name: string): boolean {
  return name === '' || name.startsWith('amq.');
}

const PREDECLARED: readonly (readonly [string, string])[] = [
  ['', 'direct'],
  ['amq.direct', 'direct'],
  ['amq.fanout', 'fanout'],
  ['amq.topic', 'topic'],
  ['amq.headers', 'headers'],
  ['amq.match', 'headers'],
];

/**
 * How a virtual host tells the durable store about each change to what
 * outlives a restart, as it happens: the store appends it to the journal.
 */
export interface DurabilityHooks {
  /** Also gives the queue its journal id (Queue.persistence). */
  queueDeclared(vhost: VirtualHost, q: Queue): void;
  queueDeleted(vhost: VirtualHost, q: Queue): void;
  /** Also gives a delayed exchange its journal id, under which it stores persistent messages. */
  exchangeDeclared(vhost: VirtualHost, x: Exchange): void;
  exchangeDeleted(vhost: VirtualHost, x: Exchange): void;
  bound(vhost: VirtualHost, source: Exchange, destination: Destination, routingKey: string, args: FieldTable): void;
  unbound(vhost: VirtualHost, source: Exchange, destination: Destination, routingKey: string, args: FieldTable): void;
}

export interface DeclareQueueRequest extends QueueOptions {
  readonly name: string;
  readonly passive: boolean;
}

/**
 * One virtual host's exchanges, queues and bindings, with RabbitMQ's rules for
 * declaring and deleting them. Routing lives in Router.
 */
export class VirtualHost {
  readonly exchanges = new Map<string, Exchange>();
  readonly queues = new Map<string, Queue>();
  /** Direct reply-to: each reply consumer's queue by its reply name (amq.rabbitmq.reply-to.*); never declared, listed or stored. */
  readonly replyQueues = new Map<string, Queue>();
  readonly router = new Router(this.exchanges);

  /** Set while the store replays journaled definitions: their deletions are records of their own. */
  autoDeleteSuspended = false;

  /** Set by the broker when it has a durable store; restores run with it unset. */
  durability: DurabilityHooks | undefined;

  /** Set by the broker: its queues page waiting messages out through it while memory is short. */
  pager: Pager | undefined;

  /** How queues reach their dead-letter exchange: routing as a publish would, alternate exchanges included. */
  private readonly deadLetterRouter: DeadLetterRouter = {
    routeFrom: (exchange, routingKeys, message) => {
      const x = this.exchanges.get(exchange);
      if (x === undefined) return undefined;
      const reached: Queue[] = [];
      this.router.route(x, routingKeys, message, reached);
      return reached;
    },
  };

  constructor(readonly name: string) {
    for (const [xname, type] of PREDECLARED) {
      this.addExchange(xname, { type, durable: true, autoDelete: false, internal: false, arguments: {} }, createExchangeRouter<Destination>(type)!);
    }
  }

  exchange(name: string): Exchange {
    const x = this.exchanges.get(name);
    if (x === undefined) throw new AmqpError(ReplyCode.NOT_FOUND, `no exchange '${name}' in vhost '${this.name}'`);
    return x;
  }

  /** The queue, checked against exclusive ownership by another connection. */
  queue(name: string, owner: object): Queue {
    const q = this.queues.get(name);
    if (q === undefined) throw new AmqpError(ReplyCode.NOT_FOUND, `no queue '${name}' in vhost '${this.name}'`);
    this.assertAccessible(q, owner);
    return q;
  }

  declareExchange(name: string, options: ExchangeOptions, passive: boolean): Exchange {
    if (passive) {
      if (name === '') throw defaultExchangeRefused();
      return this.exchange(name);
    }
    // As in RabbitMQ, an unknown type is refused (503) before anything else, even for an existing exchange.
    if (!isExchangeType(options.type)) throw new AmqpError(ReplyCode.COMMAND_INVALID, `unknown exchange type '${options.type}'`);
    if (name === '') throw defaultExchangeRefused();
    const existing = this.exchanges.get(name);
    if (existing === undefined) {
      if (name.startsWith('amq.')) {
        throw new AmqpError(ReplyCode.ACCESS_REFUSED, `exchange name '${name}' contains reserved prefix 'amq.*'`);
      }
      const ae = options.arguments['alternate-exchange'];
      if (ae !== undefined && typeof ae !== 'string') {
        throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `invalid type '${typeName(ae)}' for arg 'alternate-exchange' in exchange '${name}' in vhost '${this.name}'`);
      }
      assertExchangeArguments(options.type, options.arguments);
      return this.addExchange(name, options, createExchangeRouter<Destination>(options.type, options.arguments)!);
    }
    const current = existing.options;
    assertFlagsEquivalent('exchange', name, this.name, [
      ['type', options.type, current.type],
      ['durable', options.durable, current.durable],
      ['auto_delete', options.autoDelete, current.autoDelete],
      ['internal', options.internal, current.internal],
    ]);
    assertArgumentsEquivalent('exchange', name, this.name, COMPARED_EXCHANGE_ARGUMENTS, options.arguments, current.arguments);
    return existing;
  }

  deleteExchange(name: string, ifUnused: boolean): void {
    if (name === '') throw defaultExchangeRefused();
    if (isPredeclaredExchange(name)) {
      throw new AmqpError(ReplyCode.ACCESS_REFUSED, `deletion of system exchange '${name}' in vhost '${this.name}' not allowed`);
    }
    const x = this.exchanges.get(name);
    if (x === undefined) return;
    if (ifUnused && x.router.bindingCount > 0) {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `exchange '${name}' in vhost '${this.name}' in use`);
    }
    this.removeExchange(x);
  }

  /**
   * `serverNamed`: the broker chose the name, so the reserved amq. prefix is its own.
   * A client naming an amq. queue is refused even when it exists (RabbitMQ
   * refuses to redeclare a server-named queue by name; passive is fine).
   */
  declareQueue(request: DeclareQueueRequest, owner: object, serverNamed = false): Queue {
    const { name } = request;
    if (request.passive) {
      const q = this.queue(name, owner);
      q.redeclared();
      return q;
    }
    if (name.startsWith('amq.') && !serverNamed) {
      throw new AmqpError(ReplyCode.ACCESS_REFUSED, `queue name '${name}' contains reserved prefix 'amq.*'`);
    }
    const existing = this.queues.get(name);
    if (existing === undefined) {
      validateNewQueue({ ...request, vhost: this.name, exclusive: request.exclusiveOwner !== undefined });
      return this.addQueue(name, request);
    }
    const current = existing.options;
    // A different exclusive flag is a lock conflict (405), not an inequivalent arg, as in RabbitMQ.
    if (current.exclusiveOwner !== request.exclusiveOwner) throw this.locked(existing);
    assertFlagsEquivalent('queue', name, this.name, [
      ['durable', request.durable, current.durable],
      ['auto_delete', request.autoDelete, current.autoDelete],
    ]);
    assertArgumentsEquivalent('queue', name, this.name, comparedQueueArguments(current.arguments), request.arguments, current.arguments);
    existing.redeclared();
    return existing;
  }

  /** A name for a queue declared with an empty one, as RabbitMQ forms them. */
  generateQueueName(): string {
    for (;;) {
      const name = `amq.gen-${randomBytes(16).toString('base64url')}`;
      if (!this.queues.has(name)) return name;
    }
  }

  deleteQueue(name: string, owner: object, ifUnused: boolean, ifEmpty: boolean): number {
    const q = this.queues.get(name);
    if (q === undefined) return 0;
    this.assertAccessible(q, owner);
    if (ifUnused && q.consumerCount > 0) {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `queue '${name}' in vhost '${this.name}' in use`);
    }
    if (ifEmpty && q.messageCount > 0) {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `queue '${name}' in vhost '${this.name}' not empty`);
    }
    return this.removeQueue(q);
  }

  /** Deletes a queue without permission checks (owner gone, auto-delete). */
  removeQueue(q: Queue): number {
    if (this.queues.get(q.name) !== q) return 0;
    this.queues.delete(q.name);
    this.unbindEverywhere(q);
    const count = q.delete();
    if (isDurableQueue(q)) this.durability?.queueDeleted(this, q);
    return count;
  }

  /** The vhost is being deleted: every queue (with its messages) and every exchange but the predeclared ones goes, durably. */
  deleteEverything(): void {
    for (const q of [...this.queues.values()]) this.removeQueue(q);
    for (const x of [...this.exchanges.values()]) if (!isPredeclaredExchange(x.name)) this.removeExchange(x);
    this.stop();
  }

  /** The broker is closing: queues cancel what they scheduled (TTL, x-expires), delayed exchanges their timers. */
  stop(): void {
    for (const q of this.queues.values()) q.stop();
    for (const x of this.exchanges.values()) x.delayed?.stop();
  }

  /** Exclusive queues go with the connection that declared them. */
  removeExclusiveQueues(owner: object): void {
    for (const q of [...this.queues.values()]) if (q.options.exclusiveOwner === owner) this.removeQueue(q);
  }

  /**
   * Binding twice is binding once; true when the binding is new. Checks in
   * RabbitMQ's order: default exchange, source, queue, arguments.
   */
  bindQueue(exchange: string, queue: string, owner: object, routingKey: string, args: FieldTable): boolean {
    refuseDefaultExchange(exchange);
    const source = this.exchange(exchange);
    return this.bind(source, this.queue(queue, owner), routingKey, args);
  }

  bindExchange(source: string, destination: string, routingKey: string, args: FieldTable): boolean {
    refuseDefaultExchange(source, destination);
    const x = this.exchange(source);
    return this.bind(x, this.exchange(destination), routingKey, args);
  }

  /** Unbinding from or to something that is not there succeeds, as in RabbitMQ. */
  unbindQueue(exchange: string, queue: string, owner: object, routingKey: string, args: FieldTable): void {
    refuseDefaultExchange(exchange);
    const source = this.exchanges.get(exchange);
    const q = this.queues.get(queue);
    if (source === undefined || q === undefined) return;
    this.assertAccessible(q, owner);
    this.unbind(source, q, routingKey, args);
  }

  unbindExchange(source: string, destination: string, routingKey: string, args: FieldTable): void {
    refuseDefaultExchange(source, destination);
    const x = this.exchanges.get(source);
    const d = this.exchanges.get(destination);
    if (x !== undefined && d !== undefined) this.unbind(x, d, routingKey, args);
  }

  private bind(source: Exchange, destination: Destination, routingKey: string, args: FieldTable): boolean {
    const refusal = source.router.validateBinding(routingKey, args);
    if (refusal !== undefined) throw new AmqpError(ReplyCode.PRECONDITION_FAILED, refusal);
    if (!source.router.bind(destination, routingKey, args)) return false;
    if (destination instanceof Exchange) destination.boundFrom.add(source);
    if (isDurableBinding(source, destination)) this.durability?.bound(this, source, destination, routingKey, args);
    return true;
  }

  /** An auto-delete exchange goes with the last binding it is the source of. */
  private unbind(source: Exchange, destination: Destination, routingKey: string, args: FieldTable): void {
    if (!source.router.unbind(destination, routingKey, args)) return;
    if (isDurableBinding(source, destination)) this.durability?.unbound(this, source, destination, routingKey, args);
    this.deleteIfUnusedAutoDelete(source);
  }

  private addExchange(name: string, options: ExchangeOptions, router: ExchangeRouter<Destination>): Exchange {
    const x = new Exchange(name, options, router);
    this.exchanges.set(name, x);
    if (name === '') this.router.setDefaultExchange(x, this.queues, this.replyQueues);
    if (options.type === ExchangeType.DelayedMessage) {
      x.delayed = new DelayedMessages((message, returnPath) => routeDelayed(this.router, x, message, returnPath));
    }
    // The predeclared exchanges exist before any store: they are never recorded.
    if (options.durable) this.durability?.exchangeDeclared(this, x);
    return x;
  }

  private addQueue(name: string, options: QueueOptions): Queue {
    const q = new Queue(name, options);
    q.pager = this.pager;
    this.queues.set(name, q);
    q.onUnused = (unused) => this.removeQueue(unused);
    q.deadLetters = this.deadLetterRouter;
    if (isDurableQueue(q)) this.durability?.queueDeclared(this, q);
    return q;
  }

  private removeExchange(x: Exchange): void {
    this.exchanges.delete(x.name);
    x.delayed?.discardAll();
    this.unbindEverywhere(x);
    // Bindings whose source is x go with it; destinations that are exchanges forget x.
    for (const b of x.router.bindings()) {
      if (b.destination instanceof Exchange) b.destination.boundFrom.delete(x);
    }
    if (x.options.durable) this.durability?.exchangeDeleted(this, x);
  }

  /** Removes every binding that leads to the destination, deleting auto-delete sources left unused. */
  private unbindEverywhere(destination: Destination): void {
    const sources = destination instanceof Exchange ? [...destination.boundFrom] : [...this.exchanges.values()];
    for (const source of sources) {
      if (source.router.unbindDestination(destination) > 0) this.deleteIfUnusedAutoDelete(source);
    }
    if (destination instanceof Exchange) destination.boundFrom.clear();
  }

  private deleteIfUnusedAutoDelete(x: Exchange): void {
    if (this.autoDeleteSuspended) return;
    if (x.options.autoDelete && x.router.bindingCount === 0 && this.exchanges.get(x.name) === x) this.removeExchange(x);
  }

  /** Another connection's exclusive queue is off limits. */
  private assertAccessible(q: Queue, owner: object): void {
    const exclusiveOwner = q.options.exclusiveOwner;
    if (exclusiveOwner !== undefined && exclusiveOwner !== owner) throw this.locked(q);
  }

  private locked(q: Queue): AmqpError {
    return new AmqpError(
      ReplyCode.RESOURCE_LOCKED,
      `cannot obtain exclusive access to locked queue '${q.name}' in vhost '${this.name}'. ` +
        'It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.',
    );
  }
}

/** Exclusive queues die with their connection, so they are never stored, durable or not. */
export function isDurableQueue(q: Queue): boolean {
  return q.options.durable && q.options.exclusiveOwner === undefined;
}

/** As in RabbitMQ, a binding survives a restart when both its ends do. */
export function isDurableBinding(source: Exchange, destination: Destination): boolean {
  return source.options.durable && (destination instanceof Exchange ? destination.options.durable : isDurableQueue(destination));
}

function refuseDefaultExchange(...names: string[]): void {
  if (names.includes('')) throw defaultExchangeRefused();
}

function defaultExchangeRefused(): AmqpError {
  return new AmqpError(ReplyCode.ACCESS_REFUSED, "operation not permitted on the default exchange");
}
