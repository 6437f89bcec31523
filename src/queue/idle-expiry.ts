import type { FieldTable } from '../protocol/field-value.js';
import { integerArgument } from './argument-value.js';
import type { QueueTimer } from './queue-timer.js';

/**
 * x-expires: a queue unused for that many milliseconds is deleted, with its
 * messages (which are not dead-lettered), as in RabbitMQ. Unused means no
 * consumer, no basic.get and no redeclare (passive or not) for the whole
 * time; the clock starts when the queue is created (or recovered) and again
 * at each of those uses and when the last consumer leaves.
 */
export class IdleExpiry {
  private readonly run = (): void => this.fire();

  private constructor(
    private readonly timer: QueueTimer,
    private readonly ms: number,
    /** Deletes the queue if it still has no consumer. */
    private readonly fire: () => void,
  ) {
    this.used();
  }

  static fromArguments(args: FieldTable, timer: QueueTimer, fire: () => void): IdleExpiry | undefined {
    const ms = integerArgument(args, 'x-expires');
    return ms === undefined ? undefined : new IdleExpiry(timer, ms, fire);
  }

  /** The queue was used: the idle time starts again. */
  used(): void {
    this.timer.set(this.run, Date.now() + this.ms);
  }
}
