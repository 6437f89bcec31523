import type { FieldTable } from '../protocol/field-value.js';
import { BindingSet } from './binding-set.js';
import type { Binding, DestinationSink, ExchangeRouter } from './exchange-router.js';

/** Direct exchange: a destination gets the message when its binding key equals the routing key exactly. */
export class DirectRouter<D> implements ExchangeRouter<D> {
  private readonly byKey = new Map<string, BindingSet<D>>();
  /** Reverse index, so deleting a queue does not scan every key of a busy exchange. */
  private readonly keysByDestination = new Map<D, Set<string>>();
  private count = 0;
  readonly readsHeaders = false;

  get bindingCount(): number {
    return this.count;
  }

  bind(destination: D, routingKey: string, args: FieldTable): boolean {
    let set = this.byKey.get(routingKey);
    if (set === undefined) {
      set = new BindingSet<D>();
      this.byKey.set(routingKey, set);
    }
    if (!set.add(destination, routingKey, args)) return false;
    let keys = this.keysByDestination.get(destination);
    if (keys === undefined) {
      keys = new Set();
      this.keysByDestination.set(destination, keys);
    }
    keys.add(routingKey);
    this.count++;
    return true;
  }

  unbind(destination: D, routingKey: string, args: FieldTable): boolean {
    const set = this.byKey.get(routingKey);
    if (set === undefined || !set.remove(destination, routingKey, args)) return false;
    this.count--;
    if (!set.has(destination)) {
      const keys = this.keysByDestination.get(destination);
      keys?.delete(routingKey);
      if (keys?.size === 0) this.keysByDestination.delete(destination);
    }
    if (set.isEmpty) this.byKey.delete(routingKey);
    return true;
  }

  unbindDestination(destination: D): number {
    const keys = this.keysByDestination.get(destination);
    if (keys === undefined) return 0;
    this.keysByDestination.delete(destination);
    let removed = 0;
    for (const key of keys) {
      const set = this.byKey.get(key);
      if (set === undefined) continue;
      removed += set.removeDestination(destination);
      if (set.isEmpty) this.byKey.delete(key);
    }
    this.count -= removed;
    return removed;
  }

  route(routingKey: string, _headers: FieldTable | undefined, out: DestinationSink<D>): boolean {
    return this.byKey.get(routingKey)?.addDestinationsTo(out) ?? false;
  }

  validateBinding(): string | undefined {
    return undefined;
  }

  *bindings(): IterableIterator<Binding<D>> {
    for (const set of this.byKey.values()) yield* set.bindings();
  }
}
