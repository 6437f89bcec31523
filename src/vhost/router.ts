import { emptyArray } from '../exchange/empty-array.js';
import type { DestinationSink } from '../exchange/exchange-router.js';
import { type Destination, Exchange } from '../exchange/exchange.js';
import type { FieldTable } from '../protocol/field-value.js';
import type { Message } from '../queue/message.js';
import type { Queue } from '../queue/queue.js';

/** Marks stay small integers (V8 Smis), so counting them allocates nothing. */
const MAX_MARK = 2 ** 30;

/**
 * One routing's destinations, each kept once: a destination carries the mark
 * of the last routing that reached it. Sets would do the same, but a Set
 * allocates a new table whenever it is emptied, which is once per publish.
 */
class Reached implements DestinationSink<Destination> {
  private mark = 0;
  private queues: Queue[] = [];
  /** Exchanges still to route from, in the order reached; grows while routing walks it. */
  readonly exchanges: Exchange[] = [];

  start(mark: number, out: Queue[]): void {
    this.mark = mark;
    emptyArray(out);
    this.queues = out;
  }

  /** Lets go of the caller's array and the exchanges, so nothing stays pinned between publishes. */
  finish(): void {
    this.queues = NO_QUEUES;
    emptyArray(this.exchanges);
  }

  add(d: Destination): void {
    if (d.routeMark === this.mark) return;
    d.routeMark = this.mark;
    if (d instanceof Exchange) this.exchanges.push(d);
    else this.queues.push(d);
  }

  has(d: Destination): boolean {
    return d.routeMark === this.mark;
  }
}

const NO_QUEUES: Queue[] = [];

/**
 * Routes a message from an exchange to the queues it reaches, following
 * exchange-to-exchange bindings and alternate exchanges. Each exchange is
 * visited at most once, so binding loops end and no queue gets a message twice.
 *
 * As in RabbitMQ, an exchange's alternate exchange is used when that
 * exchange's own bindings match nothing: not when they match only exchanges
 * that route nowhere, nor when they match destinations already reached.
 */
export class Router {
  private readonly reached = new Reached();
  private lastMark = 0;
  private defaultExchange: Exchange | undefined;
  private queues: ReadonlyMap<string, Queue> = new Map();
  /** Direct reply-to: the default exchange also routes to a reply consumer's queue by its reply name. */
  private replies: ReadonlyMap<string, Queue> = new Map();

  constructor(private readonly exchanges: ReadonlyMap<string, Exchange>) {}

  /** The nameless exchange binds every queue by its name implicitly; it reads the queue table (and the reply queues) directly. */
  setDefaultExchange(x: Exchange, queues: ReadonlyMap<string, Queue>, replies: ReadonlyMap<string, Queue>): void {
    this.defaultExchange = x;
    this.queues = queues;
    this.replies = replies;
  }

  /**
   * Fills `out` (emptied first) with every queue the message reaches from `start`, each once.
   * `routingKeys` holds the routing key and any sender-selected (CC/BCC) keys;
   * the message's headers are decoded only if a headers exchange is reached.
   */
  route(start: Exchange, routingKeys: readonly string[], message: Message, out: Queue[]): void {
    const reached = this.reached;
    reached.start(this.nextMark(), out);
    reached.add(start);
    const exchanges = reached.exchanges;
    for (let i = 0; i < exchanges.length; i++) {
      const x = exchanges[i]!;
      if (this.routeOne(x, routingKeys, message, reached)) continue;
      const ae = x.alternateExchange;
      const alternate = ae === undefined ? undefined : this.exchanges.get(ae);
      if (alternate !== undefined) reached.add(alternate);
    }
    reached.finish();
  }

  /** A mark no destination of this vhost carries yet. */
  private nextMark(): number {
    if (this.lastMark === MAX_MARK) {
      for (const x of this.exchanges.values()) x.routeMark = 0;
      for (const q of this.queues.values()) q.routeMark = 0;
      for (const q of this.replies.values()) q.routeMark = 0;
      this.lastMark = 0;
    }
    return ++this.lastMark;
  }

  /** Whether any of the exchange's bindings matched. */
  private routeOne(x: Exchange, routingKeys: readonly string[], message: Message, reached: Reached): boolean {
    let matched = false;
    if (x === this.defaultExchange) {
      for (let i = 0; i < routingKeys.length; i++) {
        const key = routingKeys[i]!;
        const q = this.queues.get(key) ?? this.replies.get(key);
        if (q !== undefined) {
          reached.add(q);
          matched = true;
        }
      }
      return matched;
    }
    const router = x.router;
    const headers = router.readsHeaders ? headersOf(message) : undefined;
    const properties = router.readsProperties === true ? message.properties : undefined;
    for (let i = 0; i < routingKeys.length; i++) {
      if (router.route(routingKeys[i]!, headers, reached, properties)) matched = true;
    }
    return matched;
  }
}

function headersOf(message: Message): FieldTable | undefined {
  return message.hasHeaders ? message.properties.headers : undefined;
}
