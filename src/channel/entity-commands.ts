import { isExchangeType } from '../exchange/create-exchange-router.js';
import { AmqpError } from '../protocol/amqp-error.js';
import type { FieldTable } from '../protocol/field-value.js';
import { ReplyCode } from '../protocol/generated/amqp-constants.js';
import {
  MethodId,
  type ExchangeBind,
  type ExchangeDeclare,
  type ExchangeDelete,
  type ExchangeUnbind,
  type QueueBind,
  type QueueDeclare,
  type QueueDelete,
  type QueuePurge,
  type QueueUnbind,
} from '../protocol/generated/amqp-methods.js';
import type { Queue } from '../queue/queue.js';
import { assertServerNamedAllowed } from '../vhost/queue-arguments.js';
import { isDurableBinding, isDurableQueue, isPredeclaredExchange } from '../vhost/virtual-host.js';
import type { ChannelHost } from './channel-host.js';
import { replyQueueDeclared } from './direct-reply-to.js';

/**
 * The exchange and queue classes' methods: declaring, binding and deleting
 * entities. Each answers on the channel unless the client asked for no-wait,
 * once what it changed of the durable definitions is on disk.
 */
export class EntityCommands {
  /** The last queue this channel declared; an empty queue name in later methods means it. */
  private lastQueue = '';

  constructor(
    private readonly host: ChannelHost,
    private readonly channelNumber: number,
    /** Runs the reply once the durable definitions are on disk (at once when they are); `undo` if they cannot be written. */
    private readonly whenStored: (reply: () => void, undo?: () => void) => void,
  ) {}

  /** Resolves the empty queue name to the channel's last declared queue, as RabbitMQ does. */
  queueName(name: string): string {
    if (name !== '') return name;
    if (this.lastQueue === '') throw new AmqpError(ReplyCode.NOT_FOUND, 'no previously declared queue');
    return this.lastQueue;
  }

  queue(name: string): Queue {
    return this.host.vhost.queue(this.queueName(name), this.host.owner);
  }

  /** The queue, for basic.consume, basic.get and queue.purge: read access is checked before it is looked up, as in RabbitMQ. */
  readableQueue(name: string): Queue {
    const resolved = this.queueName(name);
    this.host.resources.check('read', 'queue', resolved);
    return this.host.vhost.queue(resolved, this.host.owner);
  }

  exchangeDeclare(m: ExchangeDeclare): void {
    const vhost = this.host.vhost;
    const existed = vhost.exchanges.has(m.exchange);
    // A passive declare needs no permission, as in RabbitMQ; an unknown type and the default exchange are refused first.
    if (!m.passive && isExchangeType(m.type) && m.exchange !== '') this.checkExchangeDeclare(m.exchange, m.arguments, existed);
    const x = vhost.declareExchange(
      m.exchange,
      { type: m.type, durable: m.durable, autoDelete: m.autoDelete, internal: m.internal, arguments: m.arguments },
      m.passive,
    );
    const created = !existed && x.options.durable;
    this.reply(m.noWait, MethodId.ExchangeDeclareOk, created ? () => vhost.exchanges.get(x.name) === x && vhost.deleteExchange(x.name, false) : undefined);
  }

  exchangeDelete(m: ExchangeDelete): void {
    // The default and amq.* exchanges are refused as such before any permission is looked at.
    if (!isPredeclaredExchange(m.exchange)) this.host.resources.check('configure', 'exchange', m.exchange);
    this.host.vhost.deleteExchange(m.exchange, m.ifUnused);
    this.reply(m.noWait, MethodId.ExchangeDeleteOk);
  }

  exchangeBind(m: ExchangeBind): void {
    this.checkBinding('exchange', m.destination, m.source, m.routingKey);
    const vhost = this.host.vhost;
    const addedDurable = vhost.bindExchange(m.source, m.destination, m.routingKey, m.arguments) && isDurableBinding(vhost.exchange(m.source), vhost.exchange(m.destination));
    this.reply(m.noWait, MethodId.ExchangeBindOk, addedDurable ? () => vhost.unbindExchange(m.source, m.destination, m.routingKey, m.arguments) : undefined);
  }

  exchangeUnbind(m: ExchangeUnbind): void {
    this.checkBinding('exchange', m.destination, m.source, m.routingKey);
    this.host.vhost.unbindExchange(m.source, m.destination, m.routingKey, m.arguments);
    this.reply(m.noWait, MethodId.ExchangeUnbindOk);
  }

  queueDeclare(m: QueueDeclare): void {
    const vhost = this.host.vhost;
    const reply = replyQueueDeclared(m.queue, vhost.replyQueues, vhost.name);
    if (reply !== undefined) {
      if (!m.noWait) this.host.writer.method(this.channelNumber, { id: MethodId.QueueDeclareOk, queue: m.queue, ...reply });
      return;
    }
    const serverNamed = m.queue === '' && !m.passive;
    if (serverNamed) assertServerNamedAllowed(m.arguments);
    // A passive declare takes the name as given: RabbitMQ answers '' with "no queue ''", not the last queue.
    const name = serverNamed ? vhost.generateQueueName() : m.queue;
    if (!m.passive) this.checkQueueDeclare(name, m.arguments);
    const existed = vhost.queues.has(name);
    if (!existed && !m.passive) this.host.resources.checkQueueLimit(name, vhost.queues.size);
    const q = vhost.declareQueue(
      {
        name,
        passive: m.passive,
        // As in RabbitMQ, an exclusive queue is never durable, whatever the flag says (so redeclaring it with another durable flag is fine).
        durable: m.durable && !m.exclusive,
        autoDelete: m.autoDelete,
        exclusiveOwner: m.exclusive ? this.host.owner : undefined,
        arguments: m.arguments,
      },
      this.host.owner,
      serverNamed,
    );
    this.lastQueue = name;
    // Only what a failed write could have lost is taken back: a durable queue this declare made.
    const undo = existed || !isDurableQueue(q) ? undefined : () => void vhost.removeQueue(q);
    this.whenStored(() => {
      if (m.noWait) return;
      this.host.writer.method(this.channelNumber, {
        id: MethodId.QueueDeclareOk,
        queue: name,
        messageCount: q.messageCount,
        consumerCount: q.consumerCount,
      });
    }, undo);
  }

  queueBind(m: QueueBind): void {
    const name = this.queueName(m.queue);
    // The spec's shortcut: no queue and no routing key binds with the last queue's name as key.
    const routingKey = m.routingKey === '' && m.queue === '' ? name : m.routingKey;
    this.checkBinding('queue', name, m.exchange, routingKey);
    const vhost = this.host.vhost;
    const addedDurable = vhost.bindQueue(m.exchange, name, this.host.owner, routingKey, m.arguments) && isDurableBinding(vhost.exchange(m.exchange), vhost.queue(name, this.host.owner));
    this.reply(m.noWait, MethodId.QueueBindOk, addedDurable ? () => vhost.unbindQueue(m.exchange, name, this.host.owner, routingKey, m.arguments) : undefined);
  }

  queueUnbind(m: QueueUnbind): void {
    const name = this.queueName(m.queue);
    this.checkBinding('queue', name, m.exchange, m.routingKey);
    this.host.vhost.unbindQueue(m.exchange, name, this.host.owner, m.routingKey, m.arguments);
    this.reply(false, MethodId.QueueUnbindOk);
  }

  queuePurge(m: QueuePurge): void {
    const count = this.readableQueue(m.queue).purge();
    if (!m.noWait) this.host.writer.method(this.channelNumber, { id: MethodId.QueuePurgeOk, messageCount: count });
  }

  queueDelete(m: QueueDelete): void {
    const name = this.queueName(m.queue);
    this.host.resources.check('configure', 'queue', name);
    const count = this.host.vhost.deleteQueue(name, this.host.owner, m.ifUnused, m.ifEmpty);
    if (!m.noWait) this.whenStored(() => this.host.writer.method(this.channelNumber, { id: MethodId.QueueDeleteOk, messageCount: count }));
  }

  /**
   * Configure access to the exchange; creating one with an alternate
   * exchange also needs read access to it and write access to the alternate,
   * which its unroutable messages reach.
   */
  private checkExchangeDeclare(name: string, args: FieldTable, existed: boolean): void {
    const resources = this.host.resources;
    resources.check('configure', 'exchange', name);
    const alternate = args['alternate-exchange'];
    if (existed || typeof alternate !== 'string') return;
    resources.check('read', 'exchange', name);
    resources.check('write', 'exchange', alternate);
  }

  /** Configure access to the queue; with a dead-letter exchange, also read access to the queue and write access to that exchange. */
  private checkQueueDeclare(name: string, args: FieldTable): void {
    const resources = this.host.resources;
    resources.check('configure', 'queue', name);
    const deadLetterExchange = args['x-dead-letter-exchange'];
    if (typeof deadLetterExchange !== 'string') return;
    resources.check('read', 'queue', name);
    resources.check('write', 'exchange', deadLetterExchange);
  }

  /**
   * As RabbitMQ checks a bind or unbind: the default exchange is refused
   * first (by the vhost), then write access to the destination, read access
   * to the source, and on a topic source the routing key against the
   * user's topic read permission.
   */
  private checkBinding(kind: 'queue' | 'exchange', destination: string, source: string, routingKey: string): void {
    if (source === '' || (kind === 'exchange' && destination === '')) return;
    const resources = this.host.resources;
    resources.check('write', kind, destination);
    resources.check('read', 'exchange', source);
    const x = this.host.vhost.exchanges.get(source);
    if (x !== undefined) resources.checkTopic('read', x, routingKey);
  }

  private reply(
    noWait: boolean,
    id:
      | typeof MethodId.ExchangeDeclareOk
      | typeof MethodId.ExchangeDeleteOk
      | typeof MethodId.ExchangeBindOk
      | typeof MethodId.ExchangeUnbindOk
      | typeof MethodId.QueueBindOk
      | typeof MethodId.QueueUnbindOk,
    undo?: () => void,
  ): void {
    // A no-wait command still waits for the disk: its undo must run if the write fails.
    this.whenStored(() => noWait || this.host.writer.method(this.channelNumber, { id }), undo);
  }
}
