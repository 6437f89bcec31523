import { type FieldTable, type FieldValue, plainValue } from '../protocol/field-value.js';

/**
 * Binding identity: two binding argument tables are the same when their
 * values are equal after removing type wrappers, deep and key-order
 * insensitive. Comparing by value rather than by wire type lets a client
 * that encodes 1 as int64 unbind what another bound with int32.
 */
export function fieldTablesEqual(a: FieldTable, b: FieldTable): boolean {
  if (a === b) return true;
  let count = 0;
  for (const key in a) {
    if (!Object.hasOwn(a, key)) continue;
    count++;
    if (!Object.hasOwn(b, key)) return false;
    if (!fieldValuesEqual(a[key]!, b[key]!)) return false;
  }
  for (const key in b) if (Object.hasOwn(b, key)) count--;
  return count === 0;
}

function fieldValuesEqual(a: FieldValue, b: FieldValue): boolean {
  const x = plainValue(a);
  const y = plainValue(b);
  if (x === y) return true;
  if (typeof x === 'number' || typeof x === 'bigint') {
    if (typeof y !== 'number' && typeof y !== 'bigint') return false;
    // Loose equality compares number and bigint by value; NaN equals itself
    // so that a binding with a NaN argument can still be removed.
    return x == y || (x !== x && y !== y);
  }
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
  if (Buffer.isBuffer(x)) return Buffer.isBuffer(y) && x.equals(y);
  if (x instanceof Date) return y instanceof Date && x.getTime() === y.getTime();
  if (Array.isArray(x)) {
    if (!Array.isArray(y) || x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!fieldValuesEqual(x[i]!, y[i]!)) return false;
    return true;
  }
  if (Array.isArray(y) || Buffer.isBuffer(y) || y instanceof Date) return false;
  return fieldTablesEqual(x, y);
}
