/**
 * A message's content where it sits: `data` from `start` holds the content
 * header's property flags word and property list, and from `bodyStart` to
 * `end` the body. Small messages share `data` (see content-slab.ts), so no
 * buffer object is made per message.
 */
export interface Content {
  readonly data: Buffer;
  readonly start: number;
  readonly bodyStart: number;
  readonly end: number;
}
