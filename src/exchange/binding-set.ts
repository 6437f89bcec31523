import type { FieldTable } from '../protocol/field-value.js';
import type { Binding, DestinationSink } from './exchange-router.js';
import { fieldTablesEqual } from './field-table-equal.js';

/**
 * The bindings that share one routing outcome (one direct key, one topic
 * trie node, all of a fanout exchange), grouped by destination.
 *
 * Routing only needs the distinct destinations, so they are kept as an
 * array snapshot rebuilt after a change: route() then walks it with an
 * index loop and allocates nothing.
 */
export class BindingSet<D> {
  private readonly byDestination = new Map<D, Binding<D>[]>();
  private snapshot: D[] | undefined;
  private count = 0;

  /** Number of bindings (not destinations). */
  get size(): number {
    return this.count;
  }

  get isEmpty(): boolean {
    return this.count === 0;
  }

  has(destination: D): boolean {
    return this.byDestination.has(destination);
  }

  /** Returns false when an identical binding is already there. */
  add(destination: D, routingKey: string, args: FieldTable): boolean {
    let list = this.byDestination.get(destination);
    if (list === undefined) {
      list = [];
      this.byDestination.set(destination, list);
      this.snapshot = undefined;
    } else if (indexOf(list, routingKey, args) >= 0) {
      return false;
    }
    list.push({ destination, routingKey, args });
    this.count++;
    return true;
  }

  remove(destination: D, routingKey: string, args: FieldTable): boolean {
    const list = this.byDestination.get(destination);
    if (list === undefined) return false;
    const at = indexOf(list, routingKey, args);
    if (at < 0) return false;
    list.splice(at, 1);
    this.count--;
    if (list.length === 0) {
      this.byDestination.delete(destination);
      this.snapshot = undefined;
    }
    return true;
  }

  /** Removes every binding to the destination; returns how many. */
  removeDestination(destination: D): number {
    const list = this.byDestination.get(destination);
    if (list === undefined) return 0;
    this.byDestination.delete(destination);
    this.snapshot = undefined;
    this.count -= list.length;
    return list.length;
  }

  /** Returns whether there was any destination. */
  addDestinationsTo(out: DestinationSink<D>): boolean {
    const destinations = (this.snapshot ??= [...this.byDestination.keys()]);
    for (let i = 0; i < destinations.length; i++) out.add(destinations[i]!);
    return destinations.length > 0;
  }

  *bindings(): IterableIterator<Binding<D>> {
    for (const list of this.byDestination.values()) yield* list;
  }
}

function indexOf<D>(list: readonly Binding<D>[], routingKey: string, args: FieldTable): number {
  for (let i = 0; i < list.length; i++) {
    const b = list[i]!;
    if (b.routingKey === routingKey && fieldTablesEqual(b.args, args)) return i;
  }
  return -1;
}
