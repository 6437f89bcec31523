import type { FieldTable } from '../protocol/field-value.js';
import { BindingSet } from './binding-set.js';
import type { Binding, DestinationSink, ExchangeRouter } from './exchange-router.js';

/**
 * Fanout exchange: every bound destination gets the message. Routing keys
 * are ignored for routing but still part of a binding's identity, as in
 * RabbitMQ (binding twice with different keys makes two bindings).
 */
export class FanoutRouter<D> implements ExchangeRouter<D> {
  private readonly set = new BindingSet<D>();
  readonly readsHeaders = false;

  get bindingCount(): number {
    return this.set.size;
  }

  bind(destination: D, routingKey: string, args: FieldTable): boolean {
    return this.set.add(destination, routingKey, args);
  }

  unbind(destination: D, routingKey: string, args: FieldTable): boolean {
    return this.set.remove(destination, routingKey, args);
  }

  unbindDestination(destination: D): number {
    return this.set.removeDestination(destination);
  }

  route(_routingKey: string, _headers: FieldTable | undefined, out: DestinationSink<D>): boolean {
    return this.set.addDestinationsTo(out);
  }

  validateBinding(): string | undefined {
    return undefined;
  }

  bindings(): IterableIterator<Binding<D>> {
    return this.set.bindings();
  }
}
