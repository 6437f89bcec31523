import type { Logger } from 'pino';
import type { BrokerConfig } from '../config/broker-config.js';
import { availableMemory } from './available-memory.js';
import { DiskAlarm } from './disk-alarm.js';
import { MemoryAlarm } from './memory-alarm.js';

export type AlarmResource = 'memory' | 'disk';

export interface AlarmOptions {
  /** Resident bytes that raise the memory alarm, instead of config.memoryHighWatermark's share. */
  readonly memoryLimit?: number | undefined;
  /** Longest wait between two free disk space checks (1 s by default; they come sooner near the limit). */
  readonly diskCheckMs?: number | undefined;
}

const DEFAULT_DISK_CHECK_MS = 1000;

/**
 * The broker's resource alarms, memory and disk, seen by connections as one:
 * publishers are blocked while any is raised, as in RabbitMQ.
 */
export class ResourceAlarms {
  readonly memory: MemoryAlarm;
  readonly disk: DiskAlarm;
  private readonly raisedSet = new Set<AlarmResource>();

  constructor(config: BrokerConfig, options: AlarmOptions, log: Logger, private readonly onChange: (active: boolean) => void) {
    const watermark = options.memoryLimit === undefined ? { relative: config.memoryHighWatermark } : { absolute: options.memoryLimit };
    this.memory = new MemoryAlarm(watermark, config.memoryPagingRatio, availableMemory(), log, (raised) => this.set('memory', raised));
    this.disk = new DiskAlarm(config.dataDir, config.diskFreeLimit, options.diskCheckMs ?? DEFAULT_DISK_CHECK_MS, log, (raised) => this.set('disk', raised));
  }

  get active(): boolean {
    return this.raisedSet.size > 0;
  }

  /** The alarms in effect, memory first. */
  get raised(): AlarmResource[] {
    return (['memory', 'disk'] as const).filter((r) => this.raisedSet.has(r));
  }

  /** connection.blocked's reason, worded as RabbitMQ words it: "low on memory", "low on disk", "low on memory & low on disk". */
  get reason(): string {
    return this.raised.map((r) => `low on ${r}`).join(' & ');
  }

  start(): void {
    this.memory.start();
    this.disk.start();
  }

  stop(): void {
    this.memory.stop();
    this.disk.stop();
  }

  private set(resource: AlarmResource, raised: boolean): void {
    const wasActive = this.active;
    if (raised) this.raisedSet.add(resource);
    else this.raisedSet.delete(resource);
    if (this.active !== wasActive) this.onChange(this.active);
  }
}
