import { randomBytes } from 'node:crypto';
import type { DelayedMessages } from '../exchange/delayed-messages.js';
import { heldDelay } from '../exchange/x-delay.js';
import { CommandAssembler, type CommandSink } from '../framing/command-assembler.js';
import { AmqpError } from '../protocol/amqp-error.js';
import type { Decoder } from '../protocol/decoder.js';
import { ReplyCode } from '../protocol/generated/amqp-constants.js';
import {
  MethodId,
  methodName,
  type BasicConsume,
  type BasicGet,
  type BasicPublish,
  type BasicQos,
  type Method,
} from '../protocol/generated/amqp-methods.js';
import { Message, type QueuedMessage } from '../queue/message.js';
import type { Queue } from '../queue/queue.js';
import type { Journal } from '../store/journal.js';
import type { ChannelHost } from './channel-host.js';
import { ConfirmTracker } from './confirm-tracker.js';
import type { AckDeadlines } from './consumer-timeout.js';
import { Consumer, type ConsumerChannel, consumerPriority } from './consumer.js';
import { ChannelReturnPath, holdDelayed } from './delayed-publish.js';
import { DirectReplyTo, REPLY_TO } from './direct-reply-to.js';
import { withoutCrLf } from './entity-names.js';
import { EntityCommands } from './entity-commands.js';
import { Publisher } from './publisher.js';
import { Transaction } from './transaction.js';
import { type Delivery, type Settlement, UnackedDeliveries } from './unacked-deliveries.js';

interface HeldCommand {
  readonly method: Method;
  readonly data: Buffer | undefined;
  readonly start: number;
  readonly bodyStart: number;
  readonly end: number;
}

/**
 * One AMQP channel: assembles its commands, runs the channel, basic, confirm
 * and tx methods, and owns its consumers and unacknowledged deliveries.
 */
export class Channel implements CommandSink, ConsumerChannel, AckDeadlines {
  readonly assembler: CommandAssembler;
  /** Set once the broker sent channel.close: everything but close/close-ok is ignored until close-ok. */
  closing = false;
  private readonly entities: EntityCommands;
  private readonly consumers = new Map<string, Consumer>();
  private readonly unacked: UnackedDeliveries;
  private readonly publisher: Publisher;
  private readonly replyTo: DirectReplyTo;
  /** Where a delayed mandatory message comes back if no queue takes it when due: this channel, while it is open. */
  private readonly returnPath: ChannelReturnPath;
  private nextDeliveryTag = 1;
  /** basic.qos global=false: the limit given to consumers created from now on. */
  private consumerPrefetch = 0;
  /** basic.qos global=true: the limit shared by all the channel's consumers. */
  private channelPrefetch = 0;
  /** Consumer deliveries awaiting ack: what channelPrefetch limits (basic.get ones do not count, as in RabbitMQ). */
  private consumerUnacked = 0;
  /** Some consumer was held back by channelPrefetch, so a freed slot must wake all of the channel's queues. */
  private channelLimitHit = false;
  private confirms: ConfirmTracker | undefined;
  /** Commands that arrived while a reply (tx.commit-ok, a declare-ok) waited for the journal; run once it is durable. */
  private heldBehindDisk: HeldCommand[] | undefined;
  /** The routing key of the last publish, kept so that messages published with the same key share one string. */
  private lastRoutingKey = '';
  /** The client's channel.close, when it arrived behind a reply waiting for the disk: that reply must go first. */
  private closeAfterDisk: (() => void) | undefined;
  /** Set by release(): the channel is gone from its connection. */
  private released = false;
  private transaction: Transaction | undefined;

  constructor(
    private readonly host: ChannelHost,
    readonly number: number,
    decoder: Decoder,
  ) {
    this.assembler = new CommandAssembler(this, decoder, host.maxMessageSize);
    const timeout = host.consumerTimeout;
    this.unacked = new UnackedDeliveries(timeout === undefined ? undefined : () => timeout.watch(this));
    this.entities = new EntityCommands(host, number, (reply, undo) => this.whenDefinitionsDurable(reply, undo));
    this.publisher = new Publisher(host, number);
    this.returnPath = new ChannelReturnPath(this.publisher, this);
    this.replyTo = new DirectReplyTo(
      {
        canDeliver: () => this.outputOpen(),
        deliver: (consumer, queue, qm) => this.deliver(consumer, queue, qm),
        consumerQueueDeleted: (consumer) => this.consumerQueueDeleted(consumer),
      },
      host.vhost.replyQueues,
    );
  }

  get consumerList(): IterableIterator<Consumer> {
    const reply = this.replyTo.active;
    return reply === undefined ? this.consumers.values() : [...this.consumers.values(), reply].values();
  }

  onCommand(method: Method, data: Buffer | undefined, start: number, bodyStart: number, end: number): void {
    if (this.heldBehindDisk !== undefined) {
      this.heldBehindDisk.push({ method, data, start, bodyStart, end });
      return;
    }
    this.execute(method, data, start, bodyStart, end);
  }

  private execute(method: Method, data: Buffer | undefined, start: number, bodyStart: number, end: number): void {
    switch (method.id) {
      case MethodId.BasicPublish:
        return this.publish(method, data!, start, bodyStart, end);
      case MethodId.BasicAck:
        return this.reject(method.deliveryTag, method.multiple, 'ack');
      case MethodId.BasicNack:
        return this.reject(method.deliveryTag, method.multiple, method.requeue ? 'requeue' : 'reject');
      case MethodId.BasicReject:
        return this.reject(method.deliveryTag, false, method.requeue ? 'requeue' : 'reject');
      case MethodId.BasicQos:
        return this.qos(method);
      case MethodId.BasicConsume:
        return this.consume(method);
      case MethodId.BasicCancel:
        if (!this.replyTo.cancel(method.consumerTag)) this.cancel(method.consumerTag);
        if (!method.noWait) this.send({ id: MethodId.BasicCancelOk, consumerTag: method.consumerTag });
        return;
      case MethodId.BasicGet:
        return this.get(method);
      case MethodId.BasicRecover:
      case MethodId.BasicRecoverAsync:
        if (!method.requeue) throw new AmqpError(ReplyCode.NOT_IMPLEMENTED, 'requeue=false');
        this.requeueAll();
        if (method.id === MethodId.BasicRecover) this.send({ id: MethodId.BasicRecoverOk });
        return;
      case MethodId.ExchangeDeclare:
        return this.entities.exchangeDeclare(withoutCrLf(method, 'exchange'));
      case MethodId.ExchangeDelete:
        return this.entities.exchangeDelete(withoutCrLf(method, 'exchange'));
      case MethodId.ExchangeBind:
        return this.entities.exchangeBind(withoutCrLf(method, 'source', 'destination'));
      case MethodId.ExchangeUnbind:
        return this.entities.exchangeUnbind(withoutCrLf(method, 'source', 'destination'));
      case MethodId.QueueDeclare:
        return this.entities.queueDeclare(withoutCrLf(method, 'queue'));
      case MethodId.QueueBind:
        return this.entities.queueBind(withoutCrLf(method, 'queue', 'exchange'));
      case MethodId.QueueUnbind:
        return this.entities.queueUnbind(withoutCrLf(method, 'queue', 'exchange'));
      case MethodId.QueuePurge:
        return this.entities.queuePurge(method);
      case MethodId.QueueDelete:
        return this.entities.queueDelete(withoutCrLf(method, 'queue'));
      case MethodId.ConfirmSelect:
        return this.confirmSelect(method.nowait);
      case MethodId.TxSelect:
        return this.txSelect();
      case MethodId.TxCommit:
        return this.txCommit();
      case MethodId.TxRollback:
        this.unacked.restore(this.requireTransaction().rollback());
        this.send({ id: MethodId.TxRollbackOk });
        return;
      case MethodId.ChannelFlow:
        // RabbitMQ does not let a client stop deliveries this way either.
        if (!method.active) throw new AmqpError(ReplyCode.NOT_IMPLEMENTED, 'active=false');
        this.send({ id: MethodId.ChannelFlowOk, active: true });
        return;
      case MethodId.ChannelOpen:
        throw new AmqpError(ReplyCode.CHANNEL_ERROR, `second 'channel.open' seen`);
      default:
        throw new AmqpError(
          ReplyCode.COMMAND_INVALID,
          `${methodName(method.id)} is not a method a client sends on a channel`,
        );
    }
  }

  // ---- ConsumerChannel -------------------------------------------------------

  /** RabbitMQ holds back no-ack consumers too while the channel is at its global limit, though they do not count towards it. */
  canDeliver(): boolean {
    if (!this.outputOpen()) return false;
    if (this.channelPrefetch !== 0 && this.consumerUnacked >= this.channelPrefetch) {
      this.channelLimitHit = true;
      return false;
    }
    return true;
  }

  /** Not closing, and not held back by socket back-pressure (the connection resumes the consumers once it drains). */
  private outputOpen(): boolean {
    if (this.closing) return false;
    if (this.host.congested) {
      this.host.consumerStalled();
      return false;
    }
    return true;
  }

  deliver(consumer: Consumer, queue: Queue, qm: QueuedMessage): void {
    const tag = this.nextDeliveryTag++;
    if (consumer.noAck) {
      queue.discard(qm);
    } else {
      this.unacked.add(tag, queue, qm, consumer);
      consumer.unacked++;
      this.consumerUnacked++;
      queue.markDelivered(qm);
    }
    const m = qm.message;
    this.host.writer.deliver(this.number, consumer.encodedTag, tag, qm.redelivered, m.exchange, m.routingKey, queue.quorum?.content(qm, false) ?? m);
  }

  consumerQueueDeleted(consumer: Consumer): void {
    this.consumers.delete(consumer.tag);
    if (this.host.capabilities.consumerCancelNotify && !this.closing) {
      this.send({ id: MethodId.BasicCancel, consumerTag: consumer.tag, noWait: true });
    }
  }

  // ---- confirms ----------------------------------------------------------------

  flushConfirms(): void {
    this.confirms?.flush();
  }

  /**
   * Releases everything the channel holds: consumers are cancelled and
   * unacknowledged messages go back to their queues, in their original places.
   */
  release(): void {
    this.released = true;
    // Held commands die with the channel: a command replayed later would act on a channel nobody owns.
    this.heldBehindDisk = undefined;
    this.closeAfterDisk = undefined;
    for (const consumer of this.consumers.values()) consumer.queue.removeConsumer(consumer);
    this.consumers.clear();
    this.replyTo.release();
    this.returnPath.release();
    if (this.transaction !== undefined) this.unacked.restore(this.transaction.rollback());
    this.requeueAll();
    this.host.consumerTimeout?.forget(this);
  }

  // ---- consumer timeout ----------------------------------------------------------

  oldestUnackedAt(): number | undefined {
    return this.unacked.oldestDeliveredAt;
  }

  /** A delivery waited longer than the consumer timeout: the channel closes (406) and its unacked messages go back, as in RabbitMQ. */
  ackTimedOut(timeoutMs: number): void {
    if (this.closing || this.released) return;
    this.host.log.warn({ channel: this.number, timeoutMs }, 'consumer timed out waiting for delivery acknowledgement');
    // RabbitMQ's close names no method (class and method 0), not the last one the client sent.
    this.assembler.lastMethodId = 0;
    this.host.commandFailed(
      this,
      new AmqpError(
        ReplyCode.PRECONDITION_FAILED,
        `delivery acknowledgement on channel ${this.number} timed out. Timeout value used: ${timeoutMs} ms. ` +
          'This timeout value can be configured, see consumers doc guide to learn more',
      ),
    );
  }

  private send(m: Method): void {
    this.host.writer.method(this.number, m);
  }

  private publish(m: BasicPublish, data: Buffer, start: number, bodyStart: number, end: number): void {
    if (m.immediate) throw new AmqpError(ReplyCode.NOT_IMPLEMENTED, 'immediate=true');
    this.host.publishing();
    // In RabbitMQ's order: write access to the exchange, then whether it exists, then whether it is internal, then the topic.
    this.host.resources.checkPublish(m.exchange);
    const exchange = this.host.vhost.exchange(m.exchange);
    if (exchange.options.internal) {
      throw new AmqpError(ReplyCode.ACCESS_REFUSED, `cannot publish to internal exchange '${m.exchange}' in vhost '${this.host.vhost.name}'`);
    }
    this.host.resources.checkTopic('write', exchange, m.routingKey);
    // RabbitMQ refuses a reply_to of amq.rabbitmq.reply-to without a reply consumer before it checks anything else of the message.
    // The exchange's own name and the previous routing key when it repeats: strings a million queued messages share.
    const routingKey = m.routingKey === this.lastRoutingKey ? this.lastRoutingKey : (this.lastRoutingKey = m.routingKey);
    const message = this.replyTo.rewrite(new Message(exchange.name, routingKey, data, start, bodyStart, end));
    this.publisher.check(message);
    const delayed = exchange.delayed;
    const delay = delayed === undefined || !message.hasHeaders ? undefined : heldDelay(message.properties.headers);
    if (delay !== undefined) this.hold(delayed!, message, delay, m.mandatory);
    else if (this.transaction !== undefined) this.transaction.publish(this.publisher.route(exchange, message), message, m.mandatory);
    else this.publisher.publish(exchange, message, m.mandatory, this.confirms);
  }

  /** A delayed exchange takes the message now (at commit in a transaction); mandatory is checked when it is routed. */
  private hold(delayed: DelayedMessages, message: Message, delay: number, mandatory: boolean): void {
    const returnPath = mandatory ? this.returnPath : undefined;
    if (this.transaction !== undefined) {
      this.transaction.hold(delayed, message, delay, returnPath);
      return;
    }
    holdDelayed(delayed, message, delay, returnPath, this.confirms);
    if (this.confirms !== undefined) this.host.confirmsPending();
  }

  /** Ack, reject and nack finish deliveries, in tx mode only at commit. */
  private reject(deliveryTag: number, multiple: boolean, how: Settlement): void {
    const deliveries = this.unacked.take(deliveryTag, multiple);
    if (this.transaction !== undefined) this.transaction.settle(deliveries, how);
    else this.settle(deliveries, how);
  }

  /** Finishes deliveries: acked (gone) or requeued, and lets their queues deliver again. */
  private settle(deliveries: readonly Delivery[], how: Settlement): void {
    // Deliveries mostly come from one queue: a Set of the others only when there are others.
    let first: Queue | undefined;
    let others: Set<Queue> | undefined;
    for (const d of deliveries) {
      if (d.consumer !== undefined) {
        d.consumer.unacked--;
        this.consumerUnacked--;
      }
      if (how === 'requeue') d.queue.requeue(d.qm);
      else if (how === 'reject') d.queue.reject(d.qm);
      else d.queue.discard(d.qm);
      if (first === undefined) first = d.queue;
      else if (d.queue !== first) (others ??= new Set()).add(d.queue);
    }
    if (this.channelLimitHit && first !== undefined) {
      // The slot freed goes round the channel's consumers, starting after the settled queue's, as in RabbitMQ: no queue starves.
      this.channelLimitHit = false;
      const round = this.queuesAfter(first);
      for (const q of round) q.dispatch();
      if (others !== undefined) for (const q of others) if (!round.has(q)) q.dispatch();
      return;
    }
    first?.dispatch();
    if (others !== undefined) for (const q of others) q.dispatch();
  }

  /** The queues of the channel's consumers, in the order they consume, starting after `queue`'s first consumer and ending with `queue`. */
  private queuesAfter(queue: Queue): Set<Queue> {
    const consumers = [...this.consumers.values()];
    const at = consumers.findIndex((c) => c.queue === queue);
    const round = new Set<Queue>();
    for (let i = 1; i <= consumers.length; i++) round.add(consumers[(at + i) % consumers.length]!.queue);
    round.delete(queue);
    round.add(queue);
    return round;
  }

  private requeueAll(): void {
    if (this.unacked.size === 0) return;
    this.settle(this.unacked.take(0, true), 'requeue');
  }

  private qos(m: BasicQos): void {
    if (m.prefetchSize !== 0) throw new AmqpError(ReplyCode.NOT_IMPLEMENTED, `prefetch_size!=0 (${m.prefetchSize})`);
    if (m.global) this.channelPrefetch = m.prefetchCount;
    else this.consumerPrefetch = m.prefetchCount;
    this.send({ id: MethodId.BasicQosOk });
    if (m.global) for (const c of this.consumers.values()) c.queue.dispatch();
  }

  private consume(m: BasicConsume): void {
    const queue = m.queue === REPLY_TO ? undefined : this.entities.readableQueue(m.queue);
    const tag = m.consumerTag === '' ? `amq.ctag-${randomBytes(16).toString('base64url')}` : m.consumerTag;
    if (this.consumers.has(tag)) {
      throw new AmqpError(ReplyCode.NOT_ALLOWED, `attempt to reuse consumer tag '${tag}'`);
    }
    if (queue === undefined) {
      this.replyTo.consume(tag, m.noAck);
      if (!m.noWait) this.send({ id: MethodId.BasicConsumeOk, consumerTag: tag });
      return;
    }
    if (queue.quorum !== undefined && this.channelPrefetch !== 0) {
      throw new AmqpError(ReplyCode.NOT_IMPLEMENTED, `queue '${queue.name}' in vhost '${this.host.vhost.name}' does not support global qos`);
    }
    if (queue.hasExclusiveConsumer || (m.exclusive && queue.refusesExclusiveConsumer)) {
      throw new AmqpError(ReplyCode.ACCESS_REFUSED, `queue '${queue.name}' in vhost '${this.host.vhost.name}' in exclusive use`);
    }
    const priority = consumerPriority(m.arguments, queue.name, this.host.vhost.name);
    const consumer = new Consumer(this, queue, tag, m.noAck, m.exclusive, this.consumerPrefetch, priority);
    this.consumers.set(tag, consumer);
    // consume-ok goes out before the first delivery.
    if (!m.noWait) this.send({ id: MethodId.BasicConsumeOk, consumerTag: tag });
    queue.addConsumer(consumer);
  }

  private cancel(tag: string): void {
    const consumer = this.consumers.get(tag);
    if (consumer === undefined) return;
    this.consumers.delete(tag);
    consumer.queue.removeConsumer(consumer);
  }

  private get(m: BasicGet): void {
    const queue = this.entities.readableQueue(m.queue);
    const qm = queue.take();
    if (qm === undefined) {
      this.send({ id: MethodId.BasicGetEmpty });
      return;
    }
    const tag = this.nextDeliveryTag++;
    if (m.noAck) {
      queue.discard(qm);
    } else {
      this.unacked.add(tag, queue, qm, undefined);
      queue.markDelivered(qm);
    }
    const msg = qm.message;
    this.send({
      id: MethodId.BasicGetOk,
      deliveryTag: tag,
      redelivered: qm.redelivered,
      exchange: msg.exchange,
      routingKey: msg.routingKey,
      messageCount: queue.messageCount,
    });
    this.host.writer.content(this.number, queue.quorum?.content(qm, true) ?? msg);
  }

  private confirmSelect(noWait: boolean): void {
    if (this.transaction !== undefined) {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED, 'cannot switch from tx to confirm mode');
    }
    this.confirms ??= new ConfirmTracker({
      ackDue: () => this.host.confirmsPending(),
      sendConfirm: (ack, deliveryTag, multiple) =>
        this.send(ack ? { id: MethodId.BasicAck, deliveryTag, multiple } : { id: MethodId.BasicNack, deliveryTag, multiple, requeue: false }),
    });
    if (!noWait) this.send({ id: MethodId.ConfirmSelectOk });
  }

  private txSelect(): void {
    if (this.confirms !== undefined) {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED, 'cannot switch from confirm to tx mode');
    }
    this.transaction ??= new Transaction();
    this.send({ id: MethodId.TxSelectOk });
  }

  /**
   * Applies the transaction. When it journaled persistent messages (or acked
   * stored ones), commit-ok waits for the disk, as in RabbitMQ, and the
   * channel's later commands wait with it so replies keep their order.
   */
  private txCommit(): void {
    const tx = this.requireTransaction();
    let journaled = false;
    for (const op of tx.take()) {
      switch (op.kind) {
        case 'publish':
          journaled = this.publisher.commit(op.queues, op.message, op.mandatory) || journaled;
          break;
        case 'hold':
          journaled = holdDelayed(op.delayed, op.message, op.delay, op.returnPath, undefined) || journaled;
          break;
        case 'settle':
          this.settle(op.deliveries, op.how);
          journaled ||= op.how !== 'requeue' && op.deliveries.some((d) => d.queue.isStored(d.qm));
          break;
      }
    }
    if (!journaled || this.host.journal === undefined) {
      this.send({ id: MethodId.TxCommitOk });
      return;
    }
    this.replyWhenDurable(this.host.journal, () => this.send({ id: MethodId.TxCommitOk }));
  }

  /**
   * Runs `reply` at once, or, while a durable declare, delete or binding (this
   * channel's or another's) is not yet on disk, once it is: nobody is told
   * of a durable entity a crash could still take back.
   */
  private whenDefinitionsDurable(reply: () => void, undo: (() => void) | undefined): void {
    const journal = this.host.journal;
    if (journal === undefined || journal.definitionsDurable) return reply();
    // A commit failing meanwhile may have taken back what this reply would vouch for (another channel's declare).
    const failedBefore = journal.failedCommits;
    this.replyWhenDurable(journal, reply, undo, () => journal.failedCommits === failedBefore);
  }

  /**
   * Sends `reply` once everything journaled so far is durable; the channel's
   * later commands wait with it, so replies keep their order. When the disk
   * refuses the write, `undo` takes back what cannot be promised (a queue,
   * exchange or binding this command made) and the client gets 541 with the
   * reason; a delete stays done, and reaches the disk when writes go through.
   */
  private replyWhenDurable(journal: Journal, reply: () => void, undo?: () => void, stillTrue: () => boolean = () => true): void {
    this.heldBehindDisk = [];
    journal.whenDurable({
      settle: (_seq, ok) => {
        if (ok && stillTrue()) return this.resumeAfterDisk(reply);
        this.heldBehindDisk = undefined;
        this.closeAfterDisk = undefined;
        if (this.closing || this.released) return;
        undo?.();
        const why = journal.writeFailure?.message ?? journal.failure?.message ?? 'the journal failed';
        this.host.commandFailed(this, new AmqpError(ReplyCode.INTERNAL_ERROR, `could not store it: ${why}`));
      },
    });
  }

  /**
   * Holds the client's channel.close while a reply waits for the disk, so
   * that reply (and the replies to commands before the close) go out first.
   * Returns false when nothing is waiting and the close can proceed now.
   */
  deferClose(close: () => void): boolean {
    if (this.heldBehindDisk === undefined) return false;
    this.closeAfterDisk = close;
    return true;
  }

  private resumeAfterDisk(reply: () => void): void {
    const held = this.heldBehindDisk ?? [];
    const close = this.closeAfterDisk;
    this.heldBehindDisk = undefined;
    this.closeAfterDisk = undefined;
    // A released or broker-closed channel has no one to answer.
    if (this.closing || this.released) return;
    reply();
    const arrived = this.assembler.lastMethodId;
    try {
      for (const [i, c] of held.entries()) {
        // Another wait among them holds the rest again (execute() may have set the field).
        const heldAgain = this.heldBehindDisk as HeldCommand[] | undefined;
        if (heldAgain !== undefined) {
          heldAgain.push(...held.slice(i));
          this.closeAfterDisk = close;
          return;
        }
        // Errors name the method being processed: this one, not the last that arrived.
        this.assembler.lastMethodId = c.method.id;
        this.execute(c.method, c.data, c.start, c.bodyStart, c.end);
      }
    } catch (err) {
      this.host.commandFailed(this, err);
      return;
    } finally {
      this.assembler.lastMethodId = arrived;
    }
    close?.();
  }

  private requireTransaction(): Transaction {
    if (this.transaction === undefined) throw new AmqpError(ReplyCode.PRECONDITION_FAILED, 'channel is not transactional');
    return this.transaction;
  }
}
