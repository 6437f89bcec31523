/**
 * Where a standby keeps each live record the primary named by (segment,
 * offset): maps of offsets per primary segment, so the keys are small
 * integers, which hash fast and box nothing (a packed 64-bit key would be a
 * heap number in every entry).
 */
export class LocatedRecords {
  private readonly bySegment = new Map<number, Map<number, number>>();

  get(segment: number, offset: number): number | undefined {
    return this.bySegment.get(segment)?.get(offset);
  }

  set(segment: number, offset: number, value: number): void {
    let offsets = this.bySegment.get(segment);
    if (offsets === undefined) this.bySegment.set(segment, (offsets = new Map()));
    offsets.set(offset, value);
  }

  delete(segment: number, offset: number): void {
    const offsets = this.bySegment.get(segment);
    if (offsets === undefined || !offsets.delete(offset)) return;
    if (offsets.size === 0) this.bySegment.delete(segment);
  }
}
