import { type Destination, Exchange } from '../exchange/exchange.js';
import type { FieldTable } from '../protocol/field-value.js';
import type { Queue } from '../queue/queue.js';

/**
 * Routes a message from an exchange to the set of queues it reaches, following
 * exchange-to-exchange bindings and alternate exchanges. Each exchange is
 * visited at most once, so binding loops end and no queue gets a message twice.
 */
export class Router {
  /** Reused across calls: routing runs for every publish and must not allocate. */
  private readonly reached = new Set<Destination>();
  private defaultExchange: Exchange | undefined;
  private queues: ReadonlyMap<string, Queue> = new Map();

  constructor(private readonly exchanges: ReadonlyMap<string, Exchange>) {}

  /** The nameless exchange binds every queue by its name implicitly; it reads the queue table directly. */
  setDefaultExchange(x: Exchange, queues: ReadonlyMap<string, Queue>): void {
    this.defaultExchange = x;
    this.queues = queues;
  }

  /**
   * Adds to `out` every queue the message reaches from `start`. `routingKeys`
   * holds the routing key and any sender-selected (CC/BCC) keys.
   */
  route(start: Exchange, routingKeys: readonly string[], headers: FieldTable | undefined, out: Set<Queue>): void {
    const reached = this.reached;
    reached.clear();
    reached.add(start);
    // A Set iterates over members added during the iteration: each exchange reached is expanded once.
    for (const d of reached) {
      if (!(d instanceof Exchange)) {
        out.add(d);
        continue;
      }
      const before = reached.size;
      this.routeOne(d, routingKeys, headers, reached);
      if (reached.size === before) {
        const ae = d.alternateExchange;
        const alternate = ae === undefined ? undefined : this.exchanges.get(ae);
        if (alternate !== undefined) reached.add(alternate);
      }
    }
    reached.clear();
  }

  private routeOne(x: Exchange, routingKeys: readonly string[], headers: FieldTable | undefined, reached: Set<Destination>): void {
    if (x === this.defaultExchange) {
      for (const key of routingKeys) {
        const q = this.queues.get(key);
        if (q !== undefined) reached.add(q);
      }
      return;
    }
    for (const key of routingKeys) x.router.route(key, headers, reached);
  }
}
