import { AmqpError } from '../protocol/amqp-error.js';
import { type FieldTable, type FieldValue, plainValue } from '../protocol/field-value.js';
import { ReplyCode } from '../protocol/generated/amqp-constants.js';

/** Arguments a redeclare must repeat exactly; RabbitMQ does not compare the others. */
export const COMPARED_EXCHANGE_ARGUMENTS = ['alternate-exchange'] as const;
export const COMPARED_QUEUE_ARGUMENTS = [
  'x-message-ttl',
  'x-expires',
  'x-dead-letter-exchange',
  'x-dead-letter-routing-key',
  'x-max-length',
  'x-max-length-bytes',
  'x-overflow',
  'x-max-priority',
  'x-queue-type',
  'x-queue-mode',
  'x-single-active-consumer',
  'x-delivery-limit',
] as const;

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
  compared: readonly string[],
  received: FieldTable,
  current: FieldTable,
): void {
  for (const key of compared) {
    const r = received[key];
    const c = current[key];
    if (!sameValue(r, c)) throw inequivalent(kind, name, vhost, key, describe(r), describe(c));
  }
}

function sameValue(a: FieldValue | undefined, b: FieldValue | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const pa = plainValue(a);
  const pb = plainValue(b);
  if (typeof pa === 'bigint' || typeof pb === 'bigint') return BigInt(pa as never) === BigInt(pb as never);
  if (Buffer.isBuffer(pa) && Buffer.isBuffer(pb)) return pa.equals(pb);
  return pa === pb;
}

function describe(v: FieldValue | undefined): string {
  if (v === undefined) return 'none';
  const plain = plainValue(v);
  return `the value '${Buffer.isBuffer(plain) ? plain.toString() : String(plain)}'`;
}
