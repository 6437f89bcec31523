/** What the tracker writes: basic.ack or basic.nack to the publisher. */
export interface ConfirmSink {
  sendConfirm(ack: boolean, deliveryTag: number, multiple: boolean): void;
  /** An ack became due later than its publish (the disk caught up): flush() must run soon. */
  ackDue(): void;
}

/**
 * Publisher confirms for one channel. Publishes are numbered from 1; each is
 * settled (ack or nack) when every queue it went to has taken it, and
 * answered exactly once. Nacks go out at once; acks are sent at flush time,
 * as one multiple=true ack over the contiguous run of settled publishes, and
 * individually beyond a gap left by a publish still outstanding. A multiple
 * ack never reaches back over a publish already answered, so no client sees
 * a nacked message acked or an ack twice.
 */
export class ConfirmTracker {
  private nextSeq = 1;
  /** Publishes not yet settled, with how many queues still have to accept each. */
  private readonly outstanding = new Map<number, number>();
  /** Settled as ack, not yet sent. */
  private readonly toAck = new Set<number>();
  /** Above lastAcked and already answered (nacked, or acked individually past a gap). */
  private readonly answered = new Set<number>();
  /** Every publish up to here has been answered. */
  private lastAcked = 0;
  /**
   * Every publish after lastAcked and up to here is settled as ack and not
   * yet sent. Publishes settled in order (the common case: no durable
   * queue) only move this mark, and never touch the sets.
   */
  private settledThrough = 0;

  constructor(private readonly sink: ConfirmSink) {}

  /** Numbers a publish that `pendingParts` queues must still accept (0: settled now). */
  publish(pendingParts: number): number {
    const seq = this.nextSeq++;
    if (pendingParts !== 0) this.outstanding.set(seq, pendingParts);
    else if (seq === this.settledThrough + 1) this.settledThrough = seq;
    else this.toAck.add(seq);
    return seq;
  }

  /** One queue accepted (ok) or refused the publish. */
  settle(seq: number, ok: boolean): void {
    const parts = this.outstanding.get(seq);
    if (parts === undefined) return;
    if (ok && parts > 1) {
      this.outstanding.set(seq, parts - 1);
      return;
    }
    this.outstanding.delete(seq);
    if (ok) {
      this.toAck.add(seq);
      this.sink.ackDue();
      return;
    }
    this.sink.sendConfirm(false, seq, false);
    this.answered.add(seq);
  }

  /** Sends the acks settled since the last flush. */
  flush(): void {
    if (this.toAck.size === 0 && this.settledThrough === this.lastAcked) return;
    let runEnd = this.settledThrough;
    for (let next = runEnd + 1; ; next++) {
      if (this.toAck.delete(next)) {
        runEnd = next;
        continue;
      }
      if (!this.answered.delete(next)) break;
      // Close the run before a publish already answered, then step over it.
      this.sendRun(runEnd);
      this.lastAcked = runEnd = next;
    }
    this.sendRun(runEnd);
    for (const seq of this.toAck) {
      this.sink.sendConfirm(true, seq, false);
      this.answered.add(seq);
    }
    this.toAck.clear();
    this.settledThrough = this.lastAcked;
  }

  private sendRun(runEnd: number): void {
    if (runEnd <= this.lastAcked) return;
    this.sink.sendConfirm(true, runEnd, runEnd - this.lastAcked > 1);
    this.lastAcked = runEnd;
  }
}
