/** setTimeout's longest delay; a later deadline is reached in steps. */
const MAX_DELAY = 2 ** 31 - 1;

export type TimerTask = () => void;

/**
 * The one timer of a queue, shared by everything in it that has a deadline
 * (message expiry, the queue's own x-expires): messages waiting on a TTL
 * cost no timer each. A task runs once its deadline (ms since the epoch)
 * has passed; it sets a new one if it needs to run again.
 */
export class QueueTimer {
  /** Made at the first deadline: most queues never have one. */
  private deadlines: Map<TimerTask, number> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (Infinity: not armed). */
  private armedFor = Infinity;

  /** Runs `task` at `at`, replacing its earlier deadline. */
  set(task: TimerTask, at: number): void {
    (this.deadlines ??= new Map()).set(task, at);
    if (at < this.armedFor) this.arm(at);
  }

  /** Runs `task` no later than `at`: an earlier deadline it has stays. */
  atLatest(task: TimerTask, at: number): void {
    const current = this.deadlines?.get(task);
    if (current === undefined || at < current) this.set(task, at);
  }

  clear(task: TimerTask): void {
    this.deadlines?.delete(task);
    if (this.deadlines?.size === 0) this.disarm();
  }

  /** Forgets every task (the queue is gone, or the broker is closing). */
  stop(): void {
    this.deadlines = undefined;
    this.disarm();
  }

  private arm(at: number): void {
    clearTimeout(this.timer);
    this.armedFor = at;
    this.timer = setTimeout(() => this.fire(), Math.min(Math.max(0, at - Date.now()), MAX_DELAY));
    // A waiting deadline must not keep an embedding process alive.
    this.timer.unref();
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const deadlines = this.deadlines;
    if (deadlines === undefined) return;
    const now = Date.now();
    for (const [task, at] of [...deadlines]) {
      // A task may stop the timer (its queue went away): the others must not run then.
      if (this.deadlines !== deadlines) return;
      if (at > now || deadlines.get(task) !== at) continue;
      deadlines.delete(task);
      try {
        task();
      } catch (err) {
        // Nothing above a timer can take the error; it must not take the broker down (it is a journal read that failed).
        process.emitWarning(err as Error);
      }
    }
    let next = Infinity;
    for (const at of this.deadlines?.values() ?? []) next = Math.min(next, at);
    if (next < this.armedFor) this.arm(next);
  }
}
