import type { StoreFile } from './store-fs.js';

/** A journal segment: the message records of one .msgs file and the .acks file beside it. */
export class Segment {
  msgs: StoreFile | undefined;
  acks: StoreFile | undefined;
  /** Bytes of the .msgs file, counting appends not yet written. */
  msgsSize = 0;
  /** Bytes of the .acks file, counting entries not yet written. */
  acksSize = 0;
  /** (queue, message) pairs stored here that no queue has removed yet; at 0 the segment can go. */
  live = 0;

  constructor(readonly number: number) {}

  static fileName(number: number, kind: 'msgs' | 'acks'): string {
    return `${String(number).padStart(10, '0')}.${kind}`;
  }

  static parseFileName(name: string): { number: number; kind: 'msgs' | 'acks' } | undefined {
    const m = /^(\d{10})\.(msgs|acks)$/.exec(name);
    return m ? { number: Number(m[1]), kind: m[2] as 'msgs' | 'acks' } : undefined;
  }
}
