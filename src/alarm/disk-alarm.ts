import { statfsSync } from 'node:fs';
import type { Logger } from 'pino';

/** Bytes that ordinary writers may still use on the file system holding `path` (df's Available). */
export type FreeSpace = (path: string) => number;

export const statfsFreeSpace: FreeSpace = (path) => {
  const { bavail, bsize } = statfsSync(path);
  return bavail * bsize;
};

/**
 * A fast journal's write rate, bytes per millisecond (1 GB/s). The next check
 * comes before free space could cross the limit at this rate, so checks come
 * often only near the limit (RabbitMQ's disk monitor does the same).
 */
const FAST_WRITE_BYTES_PER_MS = 1_000_000;
const MIN_CHECK_MS = 20;

/**
 * Watches the free space of the data directory's file system and raises an
 * alarm below the limit (RabbitMQ's disk_free_limit), so publishers are
 * stopped before the journal runs out of space. No hysteresis, as in
 * RabbitMQ: it clears as soon as free space is back at the limit.
 */
export class DiskAlarm {
  active = false;
  private timer: NodeJS.Timeout | undefined;
  /** statfs failed last time: logged once, not at every check. */
  private failing = false;

  constructor(
    private readonly dir: string,
    private limit: number,
    private readonly maxCheckMs: number,
    private readonly log: Logger,
    private readonly onChange: (active: boolean) => void,
    private readonly freeSpace: FreeSpace = statfsFreeSpace,
  ) {}

  /** Replaces the limit (an operator changing it) and re-evaluates at once. */
  setLimit(bytes: number): void {
    this.limit = bytes;
    this.log.info({ limit: bytes, dir: this.dir }, 'disk free limit set');
    this.check();
  }

  start(): void {
    this.log.info({ limit: this.limit, dir: this.dir }, 'disk free limit set');
    this.checkAndSchedule();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** Returns the free bytes seen, or undefined when they could not be read. */
  check(): number | undefined {
    let free: number;
    try {
      free = this.freeSpace(this.dir);
    } catch (err) {
      if (!this.failing) this.log.error({ err, dir: this.dir }, 'cannot read free disk space; the disk alarm keeps its state');
      this.failing = true;
      return undefined;
    }
    this.failing = false;
    if (this.active !== free < this.limit) {
      this.active = !this.active;
      this.log.warn({ free, limit: this.limit }, this.active ? 'disk alarm set: free disk space below the limit, blocking publishers' : 'disk alarm cleared');
      this.onChange(this.active);
    }
    return free;
  }

  private checkAndSchedule(): void {
    const free = this.check();
    const distance = free === undefined ? Infinity : Math.abs(free - this.limit);
    const wait = Math.min(this.maxCheckMs, Math.max(MIN_CHECK_MS, distance / FAST_WRITE_BYTES_PER_MS));
    this.timer = setTimeout(() => this.checkAndSchedule(), wait);
    this.timer.unref();
  }
}
