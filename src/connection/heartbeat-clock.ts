/**
 * One timer for every connection's heartbeats and handshake deadline, instead
 * of timers per connection: each tick (1 s) every registered connection counts
 * the seconds since it last read and wrote.
 */
export interface Ticking {
  tick(): void;
}

export class HeartbeatClock {
  private readonly members = new Set<Ticking>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs = 1000) {}

  add(member: Ticking): void {
    this.members.add(member);
    if (this.timer === undefined) {
      this.timer = setInterval(() => {
        for (const m of this.members) m.tick();
      }, this.intervalMs);
      this.timer.unref();
    }
  }

  delete(member: Ticking): void {
    this.members.delete(member);
    if (this.members.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
