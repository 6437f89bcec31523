// The parts of buffer-layout (which ships no types) that the store uses.
declare module 'buffer-layout' {
  export interface Layout<T> {
    readonly span: number;
    decode(b: Buffer, offset?: number): T;
    encode(value: T, b: Buffer, offset?: number): number;
  }
  export function struct<T>(fields: Layout<unknown>[], property?: string): Layout<T>;
  export function u8(property?: string): Layout<number>;
  export function u16be(property?: string): Layout<number>;
  export function u32be(property?: string): Layout<number>;
}
