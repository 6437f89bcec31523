import { getHeapStatistics } from 'node:v8';
import type { Logger } from 'pino';
import type { AvailableMemory } from './available-memory.js';

/** Whether memory is short enough that waiting messages should leave it; the memory alarm knows. */
export interface MemoryPressure {
  readonly paging: boolean;
}

/** How far under the limit memory must fall before the alarm clears, so it does not flap. */
const CLEAR_RATIO = 0.9;
/** Share of V8's heap limit treated as full: past the limit the process dies, not just slows. */
const HEAP_SHARE = 0.7;
const CHECK_INTERVAL_MS = 100;

/**
 * The resident size that raises the alarm, as RabbitMQ's vm_memory_high_watermark
 * sets it: a share of the available memory (.relative) or bytes (.absolute).
 */
export type MemoryWatermark = { readonly relative: number } | { readonly absolute: number };

/**
 * Watches the process's memory and raises an alarm above the limits, so the
 * broker stops reading from publishers before the OOM killer or V8's heap
 * limit ends the process. Below them, at `pagingRatio` of each, it tells
 * queues to page waiting messages out to disk (`paging`), which keeps the
 * alarm from being reached while the disk has room.
 */
export class MemoryAlarm implements MemoryPressure {
  active = false;
  paging = false;
  private rssLimit = 0;
  private readonly heapLimit = Math.floor(getHeapStatistics().heap_size_limit * HEAP_SHARE);
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private watermark: MemoryWatermark,
    private readonly pagingRatio: number,
    private readonly available: AvailableMemory,
    private readonly log: Logger,
    private readonly onChange: (active: boolean) => void,
  ) {
    this.setRssLimit();
  }

  /** Replaces the watermark (an operator changing it) and re-evaluates at once. */
  setWatermark(watermark: MemoryWatermark): void {
    this.watermark = watermark;
    this.setRssLimit();
    this.logLimits();
    this.check();
  }

  start(): void {
    this.logLimits();
    this.check();
    this.timer = setInterval(() => this.check(), CHECK_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  check(): void {
    const { rss, heapUsed } = process.memoryUsage();
    this.checkPaging(rss, heapUsed);
    const { rssLimit, heapLimit } = this;
    if (!this.active && (rss > rssLimit || heapUsed > heapLimit)) {
      this.active = true;
      this.log.warn({ rss, heapUsed, limit: rssLimit, heapLimit }, 'memory alarm set: blocking publishers');
      this.onChange(true);
    } else if (this.active && rss < rssLimit * CLEAR_RATIO && heapUsed < heapLimit * CLEAR_RATIO) {
      this.active = false;
      this.log.warn({ rss, heapUsed, limit: rssLimit, heapLimit }, 'memory alarm cleared');
      this.onChange(false);
    }
  }

  private checkPaging(rss: number, heapUsed: number): void {
    const rssLimit = this.rssLimit * this.pagingRatio;
    const heapLimit = this.heapLimit * this.pagingRatio;
    if (!this.paging && (rss > rssLimit || heapUsed > heapLimit)) {
      this.paging = true;
      this.log.info({ rss, heapUsed, limit: rssLimit, heapLimit }, 'memory above the paging threshold: waiting messages go to disk');
    } else if (this.paging && rss < rssLimit * CLEAR_RATIO && heapUsed < heapLimit * CLEAR_RATIO) {
      this.paging = false;
      this.log.info({ rss, heapUsed, limit: rssLimit, heapLimit }, 'memory below the paging threshold: waiting messages stay in memory');
    }
  }

  private setRssLimit(): void {
    const w = this.watermark;
    this.rssLimit = 'absolute' in w ? w.absolute : Math.floor(w.relative * this.available.bytes);
  }

  private logLimits(): void {
    const w = this.watermark;
    const how = 'absolute' in w ? { source: 'absolute' } : { relative: w.relative, available: this.available.bytes, source: this.available.source };
    this.log.info({ limit: this.rssLimit, heapLimit: this.heapLimit, ...how }, 'memory limit set');
  }
}
