/**
 * Publish-to-delivery latencies: the publisher stamps performance.now() into
 * each body, a consumer in the same process reads it back on arrival. Only
 * samples taken while `recording` count (the warm-up is left out).
 */
export class LatencyRecorder {
  recording = false;
  private samples: Float64Array;
  private n = 0;

  constructor(expected: number) {
    this.samples = new Float64Array(Math.max(1024, expected));
  }

  /** A message stamped `sentAt` (performance.now() ms) has just arrived. */
  sent(sentAt: number): void {
    if (!this.recording) return;
    if (this.n === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2);
      grown.set(this.samples);
      this.samples = grown;
    }
    this.samples[this.n++] = performance.now() - sentAt;
  }

  get count(): number {
    return this.n;
  }

  /** Percentiles (0–100) in microseconds; NaN without samples. */
  percentilesUs(ps: readonly number[]): number[] {
    const sorted = this.samples.slice(0, this.n).sort();
    return ps.map((p) => (this.n === 0 ? NaN : sorted[Math.min(this.n - 1, Math.floor((p / 100) * this.n))]! * 1000));
  }
}
