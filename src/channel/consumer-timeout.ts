/** A channel as the consumer timeout sees it. */
export interface AckDeadlines {
  /** When its oldest unacknowledged delivery went out (Date.now()), or undefined when it has none. */
  oldestUnackedAt(): number | undefined;
  /** That delivery waited longer than `timeoutMs`: the channel must close. */
  ackTimedOut(timeoutMs: number): void;
}

/** The longest time between two looks: RabbitMQ looks once a minute (channel_tick_interval), which makes its timeout up to a minute late. */
const MAX_CHECK_INTERVAL_MS = 1000;
const MIN_CHECK_INTERVAL_MS = 10;

/**
 * RabbitMQ's consumer_timeout: a channel whose oldest unacknowledged
 * delivery (to a consumer or from basic.get with manual ack) has waited
 * longer than the timeout is closed with 406, which sends its unacked
 * messages back to their queues. Only the oldest delivery of each channel
 * needs looking at, and it is the first in the channel's ledger.
 *
 * One timer for the whole broker, and only while some channel has unacked
 * deliveries: channels ask to be watched when their ledger stops being
 * empty and are dropped once it is. It looks every second, or four times
 * per timeout when that is shorter than four seconds.
 */
export class ConsumerTimeout {
  private readonly watched = new Set<AckDeadlines>();
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly timeoutMs: number) {
    this.intervalMs = Math.min(MAX_CHECK_INTERVAL_MS, Math.max(MIN_CHECK_INTERVAL_MS, Math.ceil(timeoutMs / 4)));
  }

  /** The channel has unacked deliveries: it is looked at until it has none. */
  watch(channel: AckDeadlines): void {
    this.watched.add(channel);
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.check(), this.intervalMs);
    this.timer.unref();
  }

  /** The channel is gone. */
  forget(channel: AckDeadlines): void {
    this.watched.delete(channel);
  }

  /** The broker is closing. */
  stop(): void {
    this.watched.clear();
    this.stopTimer();
  }

  private check(): void {
    const deadline = Date.now() - this.timeoutMs;
    for (const channel of this.watched) {
      const oldest = channel.oldestUnackedAt();
      if (oldest !== undefined && oldest >= deadline) continue;
      this.watched.delete(channel);
      if (oldest !== undefined) channel.ackTimedOut(this.timeoutMs);
    }
    if (this.watched.size === 0) this.stopTimer();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
