/**
 * Gathers every connection that produced output during this turn of the event
 * loop and flushes them together on one setImmediate, so each connection does
 * one socket write per tick however many frames it queued.
 */
export interface Flushable {
  flush(): void;
}

const dirty: Flushable[] = [];
let scheduled = false;

function flushAll(): void {
  scheduled = false;
  // A flush may queue more output (e.g. a drain callback); those go next tick.
  const batch = dirty.splice(0, dirty.length);
  for (const target of batch) target.flush();
}

export function scheduleFlush(target: Flushable): void {
  dirty.push(target);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flushAll);
  }
}
