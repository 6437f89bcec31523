import type { FieldTable } from '../protocol/field-value.js';
import { integerArgument } from './argument-value.js';

export type Overflow = 'drop-head' | 'reject-publish' | 'reject-publish-dlx';

/**
 * A queue's x-max-length and x-max-length-bytes, counted as RabbitMQ counts
 * them: messages waiting for delivery and their body bytes (deliveries
 * awaiting ack do not count), and what x-overflow does at the limit.
 */
export class LengthLimit {
  private constructor(
    private readonly maxLength: number,
    private readonly maxBytes: number,
    readonly overflow: Overflow,
  ) {}

  /** The queue's limit, or undefined when it has none. */
  static fromArguments(args: FieldTable): LengthLimit | undefined {
    const maxLength = integerArgument(args, 'x-max-length');
    const maxBytes = integerArgument(args, 'x-max-length-bytes');
    if (maxLength === undefined && maxBytes === undefined) return undefined;
    const overflow = args['x-overflow'];
    return new LengthLimit(
      maxLength ?? Infinity,
      maxBytes ?? Infinity,
      overflow === 'reject-publish' || overflow === 'reject-publish-dlx' ? overflow : 'drop-head',
    );
  }

  /** Whether the limit is in bytes (so the queue must know the size of every waiting message). */
  get countsBytes(): boolean {
    return this.maxBytes !== Infinity;
  }

  /** Whether the queue refuses new messages rather than dropping old ones. */
  get rejectsPublish(): boolean {
    return this.overflow !== 'drop-head';
  }

  /** Whether a message of `size` bytes would take the queue past its limit. */
  wouldOverflow(count: number, bytes: number, size: number): boolean {
    return count + 1 > this.maxLength || bytes + size > this.maxBytes;
  }

  /** Whether the queue holds more than its limit allows. */
  exceeded(count: number, bytes: number): boolean {
    return count > this.maxLength || bytes > this.maxBytes;
  }
}
