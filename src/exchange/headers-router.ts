import type { FieldTable } from '../protocol/field-value.js';
import type { Binding, DestinationSink, ExchangeRouter } from './exchange-router.js';
import { BindingList } from './binding-list.js';
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
export class HeadersRouter<D> extends BindingList<D, HeadersBinding<D>> implements ExchangeRouter<D> {
  readonly readsHeaders = true;

  protected prepare(destination: D, routingKey: string, args: FieldTable): HeadersBinding<D> {
    return { destination, routingKey, args, matcher: new HeadersMatcher(args) };
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
}
