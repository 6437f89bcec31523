interface PriorityGroup<C> {
  readonly priority: number;
  readonly members: C[];
  /** Index of the member whose turn is next. */
  next: number;
}

/**
 * A queue's consumers in delivery order, as RabbitMQ keeps them: by consumer
 * priority (x-priority), highest first, and in turn within one priority. A
 * lower-priority consumer gets a message only while every higher one is
 * unable to take it (at its prefetch limit, its socket backed up).
 */
export class ConsumerRing<C extends { readonly priority: number }> {
  /** Highest priority first; almost always a single group. */
  private groups: PriorityGroup<C>[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(consumer: C): void {
    let i = 0;
    while (i < this.groups.length && this.groups[i]!.priority > consumer.priority) i++;
    const group = this.groups[i];
    if (group !== undefined && group.priority === consumer.priority) group.members.push(consumer);
    else this.groups.splice(i, 0, { priority: consumer.priority, members: [consumer], next: 0 });
    this.count++;
  }

  /** Returns false if the consumer was not there. */
  remove(consumer: C): boolean {
    const g = this.groups.findIndex((group) => group.priority === consumer.priority);
    const group = this.groups[g];
    const i = group === undefined ? -1 : group.members.indexOf(consumer);
    if (group === undefined || i < 0) return false;
    group.members.splice(i, 1);
    if (group.next > i) group.next--;
    if (group.members.length === 0) this.groups.splice(g, 1);
    this.count--;
    return true;
  }

  /** Empties the ring, returning every consumer it held. */
  clear(): C[] {
    const all = [...this];
    this.groups = [];
    this.count = 0;
    return all;
  }

  some(predicate: (consumer: C) => boolean): boolean {
    return this.groups.some((group) => group.members.some(predicate));
  }

  /** The consumer whose turn it is among those `accepts` lets through, or undefined if none does. */
  pick(accepts: (consumer: C) => boolean): C | undefined {
    for (const group of this.groups) {
      const members = group.members;
      for (let tried = 0; tried < members.length; tried++) {
        if (group.next >= members.length) group.next = 0;
        const consumer = members[group.next++]!;
        if (accepts(consumer)) return consumer;
      }
    }
    return undefined;
  }

  *[Symbol.iterator](): IterableIterator<C> {
    for (const group of this.groups) yield* group.members;
  }
}
