import type { FieldTable } from '../protocol/field-value.js';
import type { Binding, DestinationSink, ExchangeRouter } from './exchange-router.js';
import { fieldTablesEqual } from './field-table-equal.js';
import { HeadersMatcher, validateHeadersBindingArgs } from './headers-match.js';

interface HeadersBinding<D> extends Binding<D> {
  readonly matcher: HeadersMatcher;
}

/**
 * Headers exchange: the routing key is ignored; each binding's arguments are
 * matched against the message headers. There is no index that avoids
 * checking every binding (RabbitMQ checks every one too), so the work is
 * kept to a precompiled matcher per binding and, once one binding matched,
 * skipping destinations already routed to.
 */
export class HeadersRouter<D> implements ExchangeRouter<D> {
  private list: HeadersBinding<D>[] = [];
  readonly readsHeaders = true;

  get bindingCount(): number {
    return this.list.length;
  }

  bind(destination: D, routingKey: string, args: FieldTable): boolean {
    if (this.indexOf(destination, routingKey, args) >= 0) return false;
    this.list.push({ destination, routingKey, args, matcher: new HeadersMatcher(args) });
    return true;
  }

  unbind(destination: D, routingKey: string, args: FieldTable): boolean {
    const at = this.indexOf(destination, routingKey, args);
    if (at < 0) return false;
    this.list.splice(at, 1);
    return true;
  }

  unbindDestination(destination: D): number {
    const before = this.list.length;
    this.list = this.list.filter((b) => b.destination !== destination);
    return before - this.list.length;
  }

  route(_routingKey: string, headers: FieldTable | undefined, out: DestinationSink<D>): boolean {
    const list = this.list;
    let matched = false;
    for (let i = 0; i < list.length; i++) {
      const b = list[i]!;
      // Until something matched, a destination reached by another path still has to be tried: the answer decides the alternate exchange.
      if (matched && out.has(b.destination)) continue;
      if (b.matcher.matches(headers)) {
        out.add(b.destination);
        matched = true;
      }
    }
    return matched;
  }

  validateBinding(_routingKey: string, args: FieldTable): string | undefined {
    return validateHeadersBindingArgs(args);
  }

  *bindings(): IterableIterator<Binding<D>> {
    for (const { destination, routingKey, args } of this.list) yield { destination, routingKey, args };
  }

  private indexOf(destination: D, routingKey: string, args: FieldTable): number {
    for (let i = 0; i < this.list.length; i++) {
      const b = this.list[i]!;
      if (b.destination === destination && b.routingKey === routingKey && fieldTablesEqual(b.args, args)) return i;
    }
    return -1;
  }
}
