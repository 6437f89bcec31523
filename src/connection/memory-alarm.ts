import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';

/** How far under the limit memory must fall before the alarm clears, so it does not flap. */
const CLEAR_RATIO = 0.9;
/** Share of V8's heap limit treated as full: past the limit the process dies, not just slows. */
const HEAP_SHARE = 0.7;
const CHECK_INTERVAL_MS = 100;

export interface MemoryLimits {
  /** Resident set size that raises the alarm (RabbitMQ's vm_memory_high_watermark × RAM). */
  readonly rssLimit: number;
  readonly heapLimit: number;
}

export function memoryLimits(watermark: number, absoluteLimit: number | undefined): MemoryLimits {
  const heapLimit = getHeapStatistics().heap_size_limit * HEAP_SHARE;
  return { rssLimit: absoluteLimit ?? watermark * totalmem(), heapLimit };
}

/**
 * Watches the process's memory and raises an alarm above the limits, so the
 * broker stops reading from publishers before Node runs out of heap.
 */
export class MemoryAlarm {
  active = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private limits: MemoryLimits,
    private readonly onChange: (active: boolean) => void,
  ) {}

  /** Replaces the limits (an operator changing the watermark) and re-evaluates at once. */
  setLimits(limits: MemoryLimits): void {
    this.limits = limits;
    this.check();
  }

  start(): void {
    this.timer = setInterval(() => this.check(), CHECK_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  check(): void {
    const { rss, heapUsed } = process.memoryUsage();
    const { rssLimit, heapLimit } = this.limits;
    if (!this.active && (rss > rssLimit || heapUsed > heapLimit)) {
      this.active = true;
      this.onChange(true);
    } else if (this.active && rss < rssLimit * CLEAR_RATIO && heapUsed < heapLimit * CLEAR_RATIO) {
      this.active = false;
      this.onChange(false);
    }
  }
}
