import { Decoder } from '../protocol/decoder.js';
import { Encoder } from '../protocol/encoder.js';
import type { FieldTable } from '../protocol/field-value.js';

/**
 * Durable exchanges, queues and bindings, kept in definitions.json and
 * rewritten whole (atomically) on every change: changes are rare and the file
 * small. Arguments are stored as base64 of their AMQP field-table encoding so
 * every type survives the round trip.
 */
export interface ExchangeDefinition {
  readonly vhost: string;
  readonly name: string;
  readonly type: string;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly arguments: FieldTable;
  /** An x-delayed-message exchange's journal id (from the queues' sequence), under which its held messages are stored. */
  readonly id?: number;
}

export interface QueueDefinition {
  readonly vhost: string;
  readonly name: string;
  /** The id journal records use for this queue; never reused, so a deleted queue's records are ignored. */
  readonly id: number;
  readonly autoDelete: boolean;
  readonly arguments: FieldTable;
}

export interface BindingDefinition {
  readonly vhost: string;
  readonly source: string;
  readonly destination: string;
  readonly destinationKind: 'queue' | 'exchange';
  readonly routingKey: string;
  readonly arguments: FieldTable;
}

export interface Definitions {
  readonly nextQueueId: number;
  readonly exchanges: readonly ExchangeDefinition[];
  readonly queues: readonly QueueDefinition[];
  readonly bindings: readonly BindingDefinition[];
}

export const EMPTY_DEFINITIONS: Definitions = { nextQueueId: 1, exchanges: [], queues: [], bindings: [] };

const FORMAT_VERSION = 1;

export function serializeDefinitions(d: Definitions): Buffer {
  const withArgs = <T extends { arguments: FieldTable }>(items: readonly T[]): unknown[] =>
    items.map((item) => ({ ...item, arguments: encodeTable(item.arguments) }));
  const json = {
    version: FORMAT_VERSION,
    nextQueueId: d.nextQueueId,
    exchanges: withArgs(d.exchanges),
    queues: withArgs(d.queues),
    bindings: withArgs(d.bindings),
  };
  return Buffer.from(`${JSON.stringify(json, null, 1)}\n`);
}

export function parseDefinitions(bytes: Buffer, path: string): Definitions {
  const json = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  if (json['version'] !== FORMAT_VERSION) throw new Error(`${path}: unsupported definitions version ${String(json['version'])}`);
  const withArgs = <T>(items: unknown): T[] =>
    (items as (Record<string, unknown> & { arguments: string })[]).map((item) => ({ ...item, arguments: decodeTable(item.arguments) }) as T);
  return {
    nextQueueId: json['nextQueueId'] as number,
    exchanges: withArgs<ExchangeDefinition>(json['exchanges']),
    queues: withArgs<QueueDefinition>(json['queues']),
    bindings: withArgs<BindingDefinition>(json['bindings']),
  };
}

function encodeTable(table: FieldTable): string {
  const e = new Encoder();
  e.table(table);
  return e.take().toString('base64');
}

function decodeTable(base64: string): FieldTable {
  return new Decoder(Buffer.from(base64, 'base64')).table();
}
