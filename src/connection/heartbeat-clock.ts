/**
 * One timer for every connection's heartbeats and handshake deadline, instead
 * of timers per connection: each tick (half a second) every registered
 * connection counts the ticks since it last read and wrote. Half a second, so
 * a heartbeat of 1 s can be sent every 500 ms, as RabbitMQ sends them (at half
 * the interval): a client that gives up after one silent interval never does.
 */
export const TICKS_PER_SECOND = 2;

export interface Ticking {
  tick(): void;
}

export class HeartbeatClock {
  private readonly members = new Set<Ticking>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs = 1000 / TICKS_PER_SECOND) {}

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
