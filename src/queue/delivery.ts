import type { Journal } from '../store/journal.js';
import type { Message } from './message.js';
import type { Queue } from './queue.js';

/**
 * The queues that take the message, each asked once (a full
 * reject-publish-dlx queue dead-letters the message as it refuses it); the
 * same array when every queue takes it, so a publish allocates nothing.
 */
export function admitted(queues: readonly Queue[], message: Message): readonly Queue[] {
  for (let i = 0; i < queues.length; i++) {
    if (queues[i]!.admit(message)) continue;
    const taking = queues.slice(0, i);
    for (let j = i + 1; j < queues.length; j++) if (queues[j]!.admit(message)) taking.push(queues[j]!);
    return taking;
  }
  return queues;
}

/** Where a persistent message bound for `queues` is journaled, once for all the durable ones; undefined when none is. */
export function durableTarget(queues: readonly Queue[]): { readonly journal: Journal; readonly ids: number[] } | undefined {
  let journal: Journal | undefined;
  let ids: number[] | undefined;
  for (let i = 0; i < queues.length; i++) {
    const p = queues[i]!.persistence;
    if (p === undefined) continue;
    journal = p.journal;
    (ids ??= []).push(p.id);
  }
  return ids === undefined ? undefined : { journal: journal!, ids };
}
