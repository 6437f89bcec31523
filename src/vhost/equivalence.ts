import { AmqpError } from '../protocol/amqp-error.js';
import { type FieldTable, type FieldValue, plainValue, TypedValue, type TypeTag } from '../protocol/field-value.js';
import { ReplyCode } from '../protocol/generated/amqp-constants.js';

/** Arguments a redeclare must repeat exactly; RabbitMQ does not compare the others (for queues, see comparedQueueArguments). */
export const COMPARED_EXCHANGE_ARGUMENTS = ['alternate-exchange'] as const;
/** Arguments whose absence means a default value: RabbitMQ accepts `x-queue-type: classic` against a queue declared without it, and the reverse. */
const ARGUMENT_DEFAULTS: Readonly<Record<string, FieldValue>> = { 'x-queue-type': 'classic' };

/** RabbitMQ's names for field types, which it shows in inequivalent-arg errors. */
const TYPE_NAMES: Readonly<Record<TypeTag, string>> = {
  t: 'bool', b: 'byte', B: 'unsignedbyte', s: 'short', u: 'unsignedshort', I: 'signedint', i: 'unsignedint',
  l: 'long', f: 'float', d: 'double', D: 'decimal', S: 'longstr', x: 'binary', A: 'array', T: 'timestamp',
  F: 'table', V: 'void',
};

export type EntityKind = 'exchange' | 'queue';

export function inequivalent(kind: EntityKind, name: string, vhost: string, what: string, received: string, current: string): AmqpError {
  return new AmqpError(
    ReplyCode.PRECONDITION_FAILED,
    `inequivalent arg '${what}' for ${kind} '${name}' in vhost '${vhost}': received ${received} but current is ${current}`,
  );
}

/** Checks a redeclare's flags: each pair is [flag name, received, current]. */
export function assertFlagsEquivalent(
  kind: EntityKind,
  name: string,
  vhost: string,
  flags: readonly (readonly [string, boolean | string, boolean | string])[],
): void {
  for (const [flag, received, current] of flags) {
    if (received !== current) throw inequivalent(kind, name, vhost, flag, `'${received}'`, `'${current}'`);
  }
}

export function assertArgumentsEquivalent(
  kind: EntityKind,
  name: string,
  vhost: string,
  compared: Iterable<string>,
  received: FieldTable,
  current: FieldTable,
): void {
  for (const key of compared) {
    const r = received[key];
    const c = current[key];
    const fallback = ARGUMENT_DEFAULTS[key];
    if (sameValue(r ?? fallback, c ?? fallback)) continue;
    // As RabbitMQ words it: a value alone when both sides have one, with its type when the other side has none.
    const bothPresent = r !== undefined && c !== undefined;
    throw inequivalent(kind, name, vhost, key, describe(r, bothPresent), describe(c, bothPresent));
  }
}

function sameValue(a: FieldValue | undefined, b: FieldValue | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const pa = plainValue(a);
  const pb = plainValue(b);
  // As RabbitMQ compares: a TTL sent as short or as long is the same TTL, but 10 and 10.0 are not the same argument.
  if (isNumber(pa) && isNumber(pb)) return typeClass(a) === typeClass(b) && (typeof pa === 'number' && typeof pb === 'number' ? pa === pb : isInteger(pa) && isInteger(pb) && BigInt(pa) === BigInt(pb));
  if (Buffer.isBuffer(pa) && Buffer.isBuffer(pb)) return pa.equals(pb);
  return pa === pb;
}

/** RabbitMQ's classes of field types: integers of every width are one, float and double another; every other type is its own. */
function typeClass(v: FieldValue): string {
  const tag = typeTag(v);
  if ('bBsuIil'.includes(tag)) return 'integer';
  return tag === 'f' || tag === 'd' ? 'float' : tag;
}

function isNumber(v: unknown): v is number | bigint {
  return typeof v === 'number' || typeof v === 'bigint';
}

function isInteger(v: unknown): v is number | bigint {
  return typeof v === 'bigint' || Number.isInteger(v);
}

function describe(v: FieldValue | undefined, valueOnly: boolean): string {
  if (v === undefined) return 'none';
  const plain = plainValue(v);
  // A float is written as RabbitMQ (Erlang) writes one: 10.0, not 10.
  const text = Buffer.isBuffer(plain) ? plain.toString() : typeClass(v) === 'float' && Number.isInteger(plain) ? `${String(plain)}.0` : String(plain);
  return valueOnly ? `'${text}'` : `the value '${text}' of type '${TYPE_NAMES[typeTag(v)]}'`;
}

/** RabbitMQ's name for the value's field type, as its error messages show it. */
export function typeName(v: FieldValue): string {
  return TYPE_NAMES[typeTag(v)];
}

/** The type tag a value is (or would be) encoded with. */
export function typeTag(v: FieldValue): TypeTag {
  if (v instanceof TypedValue) return v.type;
  if (v === null) return 'V';
  switch (typeof v) {
    case 'boolean': return 't';
    case 'string': return 'S';
    case 'bigint': return 'l';
    case 'number':
      if (!Number.isInteger(v)) return 'd';
      return v >= -0x8000_0000 && v <= 0x7fff_ffff ? 'I' : 'l';
  }
  if (Buffer.isBuffer(v)) return 'x';
  if (v instanceof Date) return 'T';
  return Array.isArray(v) ? 'A' : 'F';
}
