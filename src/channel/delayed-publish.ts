import type { DelayedMessages, ReturnPath } from '../exchange/delayed-messages.js';
import type { Message } from '../queue/message.js';
import type { ConfirmTracker } from './confirm-tracker.js';
import type { Publisher } from './publisher.js';

/**
 * Hands a published message with a positive x-delay to its delayed
 * exchange. Its confirm is numbered now, as the plugin confirms a message
 * once the exchange has taken it: at once, or when it is on disk if the
 * exchange journals it. Returns whether it did (a commit then waits for the disk).
 */
export function holdDelayed(delayed: DelayedMessages, message: Message, delay: number, returnPath: ReturnPath | undefined, confirms: ConfirmTracker | undefined): boolean {
  const stored = delayed.stores(message);
  const seq = confirms?.publish(stored ? 1 : 0) ?? 0;
  delayed.hold(message, delay, returnPath, stored ? confirms : undefined, seq);
  return stored;
}

/**
 * A channel's way back for delayed mandatory messages. It lets go of the
 * channel when the channel is released, so a message held for hours does
 * not keep a closed channel and its connection in memory.
 */
export class ChannelReturnPath implements ReturnPath {
  private target: { readonly publisher: Publisher; readonly channel: { readonly closing: boolean } } | undefined;

  constructor(publisher: Publisher, channel: { readonly closing: boolean }) {
    this.target = { publisher, channel };
  }

  returnUnroutable(message: Message): void {
    const target = this.target;
    if (target !== undefined && !target.channel.closing) target.publisher.returnUnroutable(message);
  }

  release(): void {
    this.target = undefined;
  }
}
