import type { FieldTable } from '../protocol/field-value.js';
import type { StoredLocation } from '../store/journal.js';
import { integerArgument } from './argument-value.js';
import type { QueuedMessage } from './message.js';
import { DEFAULT_QUEUE_MEMORY, type MemoryLimit, MemoryUse, type PageSource, type Pager, ReadyList, type ReadyMessages } from './ready-list.js';

/** The ready list for a queue's arguments: one level per priority with x-max-priority, else one plain list. */
export function readyListFor(args: FieldTable): ReadyMessages {
  const max = integerArgument(args, 'x-max-priority');
  // With a maximum of 0 every message has priority 0: the queue is a plain one.
  return max === undefined || max === 0 ? new ReadyList() : new PriorityReadyList(max);
}

/**
 * The ready messages of a priority queue (x-max-priority), as RabbitMQ keeps
 * them: one sub-queue per priority, the highest non-empty one delivered
 * first, FIFO within each. A message without a priority property counts as
 * 0, one above the maximum as the maximum.
 *
 * Each level is a ReadyList, made the first time a message of its priority
 * arrives, so requeueing to the original place, expiry and paging work
 * within a level as in a plain queue. The levels share the queue's memory
 * limit: a durable queue pages persistent messages past it whatever their
 * priority. Queue order (what `peek`, `shift` and `removeWhere` follow) is
 * highest level first; x-overflow drop-head therefore drops the head of the
 * highest level, as RabbitMQ does.
 */
export class PriorityReadyList implements ReadyMessages {
  /** Levels by priority; undefined until a message of that priority arrives. */
  private readonly byPriority: (ReadyList | undefined)[];
  /** The levels made so far, highest priority first. */
  private readonly levels: ReadyList[] = [];
  private readonly priorities: number[] = [];
  private readonly memory: MemoryUse;
  private count = 0;
  private pageSource: PageSource | undefined;

  constructor(
    private readonly max: number,
    limit: MemoryLimit = DEFAULT_QUEUE_MEMORY,
  ) {
    this.byPriority = new Array<ReadyList | undefined>(max + 1).fill(undefined);
    this.memory = new MemoryUse(limit);
  }

  get length(): number {
    return this.count;
  }

  get bytes(): number {
    let bytes = 0;
    for (const level of this.levels) bytes += level.bytes;
    return bytes;
  }

  get source(): PageSource | undefined {
    return this.pageSource;
  }

  set source(source: PageSource | undefined) {
    this.pageSource = source;
    for (const level of this.levels) level.source = source;
  }

  /** Shared by the levels, through the memory they share. */
  get pager(): Pager | undefined {
    return this.memory.pager;
  }

  set pager(pager: Pager | undefined) {
    this.memory.pager = pager;
  }

  /** Joins the back of its level; returns false when a lower level has messages, which it now goes ahead of. */
  push(qm: QueuedMessage): boolean {
    const priority = this.clamp(qm.message.priority);
    this.level(priority).push(qm);
    this.count++;
    for (let i = this.levels.length - 1; i >= 0 && this.priorities[i]! < priority; i--) if (this.levels[i]!.length > 0) return false;
    return true;
  }

  pushStored(seq: number, location: StoredLocation, redelivered: boolean, expiresAt: number | undefined, priority: number): void {
    this.level(this.clamp(priority)).pushStored(seq, location, redelivered, expiresAt);
    this.count++;
  }

  countStoredBytes(): void {
    for (const level of this.levels) level.countStoredBytes();
  }

  sortStored(): void {
    for (const level of this.levels) level.sortStored();
  }

  requeue(qm: QueuedMessage): void {
    this.level(this.clamp(qm.message.priority)).requeue(qm);
    this.count++;
  }

  peek(): QueuedMessage | undefined {
    return this.head()?.peek();
  }

  shift(): QueuedMessage | undefined {
    const qm = this.head()?.shift();
    if (qm !== undefined) this.count--;
    return qm;
  }

  removeWhere(remove: (expiresAt: number) => boolean): QueuedMessage[] {
    const removed: QueuedMessage[] = [];
    for (const level of this.levels) for (const qm of level.removeWhere(remove)) removed.push(qm);
    this.count -= removed.length;
    return removed;
  }

  clear(): number {
    const count = this.count;
    for (const level of this.levels) level.clear();
    this.count = 0;
    return count;
  }

  *storedLocations(): IterableIterator<StoredLocation> {
    for (const level of this.levels) yield* level.storedLocations();
  }

  /** The highest level that has messages. */
  private head(): ReadyList | undefined {
    if (this.count === 0) return undefined;
    for (const level of this.levels) if (level.length > 0) return level;
    return undefined;
  }

  private clamp(priority: number): number {
    return priority > this.max ? this.max : priority;
  }

  private level(priority: number): ReadyList {
    const existing = this.byPriority[priority];
    if (existing !== undefined) return existing;
    const level = new ReadyList(this.memory);
    level.source = this.pageSource;
    let i = 0;
    while (i < this.priorities.length && this.priorities[i]! > priority) i++;
    this.levels.splice(i, 0, level);
    this.priorities.splice(i, 0, priority);
    this.byPriority[priority] = level;
    return level;
  }
}
