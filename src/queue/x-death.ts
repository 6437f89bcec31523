import { type FieldTable, type FieldValue, isFieldTable, plainValue, TypedValue } from '../protocol/field-value.js';

/** delivery_limit: a quorum queue's message came back more often than its x-delivery-limit allows. */
export type DeadLetterReason = 'rejected' | 'expired' | 'maxlen' | 'delivery_limit';

/** What one dead-lettering records in x-death. */
export interface Death {
  readonly reason: DeadLetterReason;
  readonly queue: string;
  /** The exchange the message was published to (a dead-letter exchange, if it was dead-lettered before). */
  readonly exchange: string;
  /** The routing key it was published with, then its CC keys. */
  readonly routingKeys: readonly string[];
  /** The expiration property it had, which dead-lettering removes. */
  readonly expiration: string | undefined;
  readonly time: Date;
}

/**
 * Records a death in the headers as RabbitMQ 3.10 does (rabbit_dead_letter),
 * down to the order of fields, which clients that compare headers see:
 *
 * - the first death sets x-first-death-reason, -queue and -exchange and
 *   starts x-death with a table in the order count, reason, queue, time,
 *   exchange, routing-keys[, original-expiration];
 * - a later death of the same (queue, reason) adds one to that entry's
 *   count and keeps its time and keys; any other death is a new entry with
 *   count 1. Either way that entry moves to the front with its fields sorted
 *   by name, and when x-death held two or more entries the others come after
 *   it in reverse order (RabbitMQ regroups them by queue and reason, which
 *   reverses them);
 * - an x-death that is not an array is replaced by one new entry;
 * - the whole headers table is sorted by name.
 *
 * Returns the new headers and their x-death array.
 */
export function recordDeath(headers: FieldTable | undefined, death: Death): { headers: FieldTable; deaths: FieldValue[] } {
  const out: FieldTable = { ...headers };
  const info: FieldTable = {
    reason: death.reason,
    queue: death.queue,
    time: death.time,
    exchange: death.exchange,
    'routing-keys': [...death.routingKeys],
  };
  if (death.expiration !== undefined) info['original-expiration'] = death.expiration;
  const existing = out['x-death'];
  let deaths: FieldValue[];
  if (existing === undefined) {
    out['x-first-death-reason'] = death.reason;
    out['x-first-death-queue'] = death.queue;
    out['x-first-death-exchange'] = death.exchange;
    deaths = [{ count: long(1), ...info }];
  } else if (!Array.isArray(existing)) {
    deaths = [{ count: long(1), ...info }];
  } else {
    const grouped = groupByQueueAndReason(existing);
    const match = grouped.findIndex((d) => sameEvent(d, death.queue, death.reason));
    const entry = match < 0 ? { count: long(1), ...info } : incremented(grouped[match] as FieldTable);
    deaths = [sortedTable(entry), ...grouped.filter((_, i) => i !== match)];
  }
  out['x-death'] = deaths;
  return { headers: sortedTable(out), deaths };
}

/**
 * Whether delivering a dead-lettered message to `queue` closes a cycle with
 * no rejection in it (`deaths` is its x-death, newest first): the message
 * would die there again and again without a client ever seeing it, so
 * RabbitMQ drops it. A cycle with a rejection goes on, since a client
 * decides each time; so does anything with an x-death entry a client put there.
 */
export function closesAutomaticCycle(queue: string, deaths: readonly FieldValue[]): boolean {
  const at = deaths.findIndex((d) => isFieldTable(d) && d['queue'] === queue);
  if (at < 0) return false;
  for (let i = 0; i <= at; i++) {
    const d = deaths[i];
    if (!isFieldTable(d) || d['reason'] === 'rejected') return false;
  }
  return true;
}

const long = (n: number | bigint): TypedValue => new TypedValue('l', n);

function sameEvent(entry: FieldValue, queue: string, reason: string): boolean {
  return isFieldTable(entry) && entry['queue'] === queue && entry['reason'] === reason;
}

/** The entry with one more count (count 1 if it had none), its other fields as they were. */
function incremented(entry: FieldTable): FieldTable {
  const count = entry['count'];
  if (count === undefined) return { count: long(1), ...entry };
  const n = plainValue(count);
  return { ...entry, count: long(typeof n === 'bigint' ? n + 1n : Number(n) + 1) };
}

/**
 * RabbitMQ's grouping of entries from before it counted deaths: one entry per
 * (queue, reason), the first found, given a count of how many there were if
 * it has none. The fold that does it prepends, so two or more entries come
 * back in reverse order.
 */
function groupByQueueAndReason(entries: readonly FieldValue[]): FieldValue[] {
  if (entries.length <= 1) return [...entries];
  const seen = new Set<string>();
  let grouped: FieldValue[] = [];
  for (const entry of entries) {
    if (!isFieldTable(entry)) {
      grouped = [entry, ...grouped];
      continue;
    }
    const { queue, reason } = entry;
    const matches = entries.filter((e) => isFieldTable(e) && e['queue'] === queue && e['reason'] === reason) as FieldTable[];
    const first = matches[0]!;
    const counted = first['count'] === undefined ? { count: long(matches.length), ...first } : first;
    const key = JSON.stringify([String(queue), String(reason)]);
    if (grouped.length === 0 || !seen.has(key)) grouped = [counted, ...grouped];
    seen.add(key);
  }
  return grouped;
}

/** The table with its fields in RabbitMQ's order: by name, compared as bytes. */
export function sortedTable(table: FieldTable): FieldTable {
  const keys = Object.keys(table).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const sorted: FieldTable = {};
  // defineProperty, so that a header named __proto__ stays a header.
  for (const key of keys) Object.defineProperty(sorted, key, { value: table[key], enumerable: true, writable: true, configurable: true });
  return sorted;
}
