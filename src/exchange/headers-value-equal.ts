import { type FieldTable, type FieldValue, TypedValue } from '../protocol/field-value.js';
import { typeTag } from '../vhost/equivalence.js';

/**
 * Header value comparison as RabbitMQ's headers exchange does it: Erlang's
 * `==` on the decoded values, with the type tags of the two top-level values
 * ignored. In Erlang terms that means:
 * - every integer type, float and double, and timestamps (integer seconds)
 *   compare as numbers: int32 7 == int64 7 == double 7.0 == timestamp 7;
 * - longstr and byte array are both binaries: "ab" == bytes 61 62;
 * - booleans only equal booleans, decimals only decimals with the same scale
 *   and digits (a {Scale, Digits} tuple), void only void;
 * - nested tables and arrays are lists of {Key, Type, Value} / {Type, Value}
 *   tuples, so inside them types do count and order matters.
 */

/** A binding value prepared once at bind time, so matching a message allocates nothing. */
export type HeaderPattern =
  | { readonly kind: 'void' }
  | { readonly kind: 'number'; readonly value: number | bigint }
  | { readonly kind: 'binary'; readonly text: string | undefined; readonly bytes: Buffer }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'decimal'; readonly places: number; readonly digits: number }
  | { readonly kind: 'list'; readonly value: FieldTable | FieldValue[] };

export function compileHeaderPattern(v: FieldValue): HeaderPattern {
  if (v === null) return { kind: 'void' };
  if (typeof v === 'boolean') return { kind: 'bool', value: v };
  if (typeof v === 'number' || typeof v === 'bigint') return { kind: 'number', value: v };
  if (typeof v === 'string') return { kind: 'binary', text: v, bytes: Buffer.from(v, 'utf8') };
  if (Buffer.isBuffer(v)) {
    // A JS string can only equal these bytes if they are valid UTF-8.
    const text = v.toString('utf8');
    return { kind: 'binary', text: Buffer.from(text, 'utf8').equals(v) ? text : undefined, bytes: v };
  }
  if (v instanceof Date) return { kind: 'number', value: seconds(v) };
  if (v instanceof TypedValue) {
    const inner = v.value;
    if (typeof inner === 'object') return { kind: 'decimal', places: inner.places, digits: inner.digits >>> 0 };
    if (v.type === 't') return { kind: 'bool', value: Number(inner) !== 0 };
    return { kind: 'number', value: inner };
  }
  return { kind: 'list', value: v };
}

/** Whether a message header value equals the binding's (present, non-void) pattern value. */
export function headerValueMatches(p: HeaderPattern, v: FieldValue): boolean {
  switch (p.kind) {
    case 'void':
      return v === null;
    case 'number': {
      const n = numberOf(v);
      return n !== undefined && n == p.value;
    }
    case 'binary':
      if (typeof v === 'string') return v === p.text;
      return Buffer.isBuffer(v) && p.bytes.equals(v);
    case 'bool':
      if (typeof v === 'boolean') return v === p.value;
      return v instanceof TypedValue && v.type === 't' && (Number(v.value) !== 0) === p.value;
    case 'decimal': {
      if (!(v instanceof TypedValue) || typeof v.value !== 'object') return false;
      return v.value.places === p.places && v.value.digits >>> 0 === p.digits;
    }
    case 'list':
      // Erlang's empty table and empty array are both [] and so equal.
      if (isEmptyList(p.value) && isList(v) && isEmptyList(v)) return true;
      return taggedEqual(p.value, v);
  }
}

function seconds(d: Date): number {
  // As the encoder writes a timestamp.
  return Math.floor(d.getTime() / 1000);
}

/** The value as an Erlang number, or undefined when it is not one. */
function numberOf(v: FieldValue): number | bigint | undefined {
  if (typeof v === 'number' || typeof v === 'bigint') return v;
  if (v instanceof TypedValue) {
    const inner = v.value;
    return typeof inner === 'object' || v.type === 't' ? undefined : inner;
  }
  if (v instanceof Date) return seconds(v);
  return undefined;
}

function isList(v: FieldValue): v is FieldTable | FieldValue[] {
  return (
    typeof v === 'object' && v !== null && !Buffer.isBuffer(v) && !(v instanceof Date) && !(v instanceof TypedValue)
  );
}

function isEmptyList(v: FieldTable | FieldValue[]): boolean {
  if (Array.isArray(v)) return v.length === 0;
  for (const key in v) if (Object.hasOwn(v, key)) return false;
  return true;
}

/** Erlang `==` on {Type, Value} pairs: same type tag, then equal values. */
function taggedEqual(a: FieldValue, b: FieldValue): boolean {
  // The wire type the encoder writes for a value is also the tag it was decoded from.
  const tag = typeTag(a);
  if (tag !== typeTag(b)) return false;
  switch (tag) {
    case 'V': return true;
    case 'S': return a === b;
    case 'x': return (a as Buffer).equals(b as Buffer);
    case 'A': {
      const x = a as FieldValue[];
      const y = b as FieldValue[];
      if (x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) if (!taggedEqual(x[i]!, y[i]!)) return false;
      return true;
    }
    case 'F': {
      // A table is an ordered list in Erlang; compare keys in the same order.
      const x = Object.keys(a as FieldTable);
      const y = Object.keys(b as FieldTable);
      if (x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) {
        const key = x[i]!;
        if (key !== y[i] || !taggedEqual((a as FieldTable)[key]!, (b as FieldTable)[key]!)) return false;
      }
      return true;
    }
    default:
      // Booleans, numbers, timestamps and decimals: same comparison as at the top level.
      return headerValueMatches(compileHeaderPattern(a), b);
  }
}
