import type { FieldTable } from '../protocol/field-value.js';
import type { BasicProperties } from '../protocol/generated/basic-properties.js';

/**
 * One binding of an exchange. The args object is kept as given, so callers
 * must not mutate it after binding.
 */
export interface Binding<D> {
  readonly destination: D;
  readonly routingKey: string;
  readonly args: FieldTable;
}

/**
 * Where route() puts destinations. A Set<D> is one; the vhost router passes
 * its own, which de-duplicates without allocating (a Set allocates a new
 * table every time it is emptied, once per publish).
 */
export interface DestinationSink<D> {
  add(destination: D): unknown;
  has(destination: D): boolean;
}

/**
 * The routing part of an exchange, one implementation per exchange type.
 * Generic over the destination (queues and exchanges in the broker);
 * destinations are compared by identity.
 */
export interface ExchangeRouter<D> {
  /** Adds the binding; returns false when an identical binding (same destination, routing key and args — args compared by value, deep) already exists. */
  bind(destination: D, routingKey: string, args: FieldTable): boolean;
  /** Removes the binding; returns false when there was none. */
  unbind(destination: D, routingKey: string, args: FieldTable): boolean;
  /** Removes every binding to the destination (it was deleted); returns how many. */
  unbindDestination(destination: D): number;
  /**
   * Adds every matching destination to `out` (which keeps each destination
   * once). Returns whether any binding matched, even when its destinations
   * were already in `out`: an exchange whose bindings match nothing is what
   * sends a message to its alternate exchange. Must not allocate per call
   * beyond what is unavoidable: this runs for every published message.
   */
  route(routingKey: string, headers: FieldTable | undefined, out: DestinationSink<D>, properties?: BasicProperties): boolean;
  /** Whether route() looks at the headers; for other types the caller need not decode them. */
  readonly readsHeaders: boolean;
  /** Whether route() looks at other properties (given only then); a consistent-hash exchange may hash one. */
  readonly readsProperties?: boolean;
  /**
   * Why this exchange type refuses the binding, or undefined when it is
   * acceptable. RabbitMQ answers a refused binding with 406
   * PRECONDITION_FAILED (its binding_invalid error): headers exchanges
   * refuse a bad x-match, consistent-hash ones a key that is not a weight.
   * Checked by the caller before bind, never on unbind.
   */
  validateBinding(routingKey: string, args: FieldTable): string | undefined;
  readonly bindingCount: number;
  bindings(): IterableIterator<Binding<D>>;
}
