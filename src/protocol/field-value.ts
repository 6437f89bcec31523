/**
 * In-memory form of AMQP field-table values.
 *
 * Plain JS values cover the common types. Values whose AMQP type the encoder
 * would not infer back from the plain value (int8, uint16, float, decimal, …)
 * decode to a TypedValue, so a table the broker decodes and re-encodes (for
 * example when it adds x-death to a message's headers) keeps every type tag.
 */
export type FieldValue =
  | boolean
  | number
  | bigint
  | string
  | Buffer
  | Date
  | null
  | TypedValue
  | FieldTable
  | FieldValue[];

export interface FieldTable {
  [key: string]: FieldValue;
}

/** Type tags as RabbitMQ writes them (not the 0-9-1 errata list). */
export type TypeTag =
  | 't' | 'b' | 'B' | 's' | 'u' | 'I' | 'i' | 'l' | 'f' | 'd'
  | 'D' | 'S' | 'A' | 'T' | 'F' | 'V' | 'x';

export interface Decimal {
  readonly places: number;
  readonly digits: number;
}

/** A value pinned to one AMQP type tag. */
export class TypedValue {
  constructor(
    readonly type: TypeTag,
    readonly value: number | bigint | Decimal,
  ) {}
}

/** The value with any TypedValue wrapper removed (decimals become numbers). */
export function plainValue(value: FieldValue): Exclude<FieldValue, TypedValue> {
  if (!(value instanceof TypedValue)) return value;
  const inner = value.value;
  if (typeof inner === 'object') return inner.digits / 10 ** inner.places;
  return inner;
}

export function isFieldTable(value: FieldValue | undefined): value is FieldTable {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !Buffer.isBuffer(value) &&
    !(value instanceof Date) &&
    !(value instanceof TypedValue)
  );
}
