import type { FieldTable } from '../protocol/field-value.js';
import type { Binding } from './exchange-router.js';
import { fieldTablesEqual } from './field-table-equal.js';

/**
 * The bindings of a router that looks at every binding for every message
 * (headers, consistent hash): a plain list, each entry with what the router
 * precomputes for it (`prepare`). Bindings are equal when destination, key
 * and arguments are.
 */
export abstract class BindingList<D, B extends Binding<D>> {
  protected list: B[] = [];

  /** The entry for a new binding, with whatever the router routes by. */
  protected abstract prepare(destination: D, routingKey: string, args: FieldTable): B;

  get bindingCount(): number {
    return this.list.length;
  }

  bind(destination: D, routingKey: string, args: FieldTable): boolean {
    if (this.indexOf(destination, routingKey, args) >= 0) return false;
    this.list.push(this.prepare(destination, routingKey, args));
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
