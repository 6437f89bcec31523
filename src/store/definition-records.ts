import type { Decoder } from '../protocol/decoder.js';
import type { Encoder } from '../protocol/encoder.js';
import { type AccessDefinitions, type AccessOp, readAccessDefinitions, readAccessOp, writeAccessDefinitions, writeAccessOp } from '../auth/access-definitions.js';
import type { FieldTable } from '../protocol/field-value.js';
import { readList, writeList } from '../protocol/record-lists.js';

/**
 * Durable definitions as journal records: every declare, delete, bind and
 * unbind of a durable entity is one operation appended to the journal, in
 * the same ordered stream as the messages, and every segment starts with a
 * snapshot of all of them. Recovery takes the newest snapshot and applies
 * the operations after it (spec/storage-format.md).
 */
export interface ExchangeDefinition {
  readonly vhost: string;
  readonly name: string;
  readonly type: string;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly arguments: FieldTable;
  /** An x-delayed-message exchange's journal id (from the queues' sequence), under which its held messages are stored. */
  readonly id?: number | undefined;
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

/** Everything durable at one point of the journal. */
export interface Definitions {
  /** The next journal id to hand out: ids are never reused. */
  readonly nextQueueId: number;
  readonly exchanges: readonly ExchangeDefinition[];
  readonly queues: readonly QueueDefinition[];
  readonly bindings: readonly BindingDefinition[];
  /** Vhosts, users and permissions; undefined in a snapshot an earlier version wrote, which had only the vhost "/" and the default user. */
  readonly access: AccessDefinitions | undefined;
}

export type DefinitionOp =
  | AccessOp
  | { readonly op: 'exchange.declared'; readonly exchange: ExchangeDefinition }
  | { readonly op: 'exchange.deleted'; readonly vhost: string; readonly name: string }
  | { readonly op: 'queue.declared'; readonly queue: QueueDefinition }
  | { readonly op: 'queue.deleted'; readonly vhost: string; readonly name: string; readonly id: number }
  | { readonly op: 'bound'; readonly binding: BindingDefinition }
  | { readonly op: 'unbound'; readonly binding: BindingDefinition };

/** The op code octet that starts a definition record's payload. */
const OpCode = {
  ExchangeDeclared: 1,
  ExchangeDeleted: 2,
  QueueDeclared: 3,
  QueueDeleted: 4,
  Bound: 5,
  Unbound: 6,
} as const;

const AUTO_DELETE = 1;
const INTERNAL = 2;
/** No delayed-exchange id: ids start at 1. */
const NO_ID = 0;

export function writeDefinitionOp(e: Encoder, op: DefinitionOp): void {
  switch (op.op) {
    case 'exchange.declared':
      e.u8(OpCode.ExchangeDeclared);
      return writeExchange(e, op.exchange);
    case 'exchange.deleted':
      e.u8(OpCode.ExchangeDeleted);
      e.shortstr(op.vhost);
      e.shortstr(op.name);
      return;
    case 'queue.declared':
      e.u8(OpCode.QueueDeclared);
      return writeQueue(e, op.queue);
    case 'queue.deleted':
      e.u8(OpCode.QueueDeleted);
      e.shortstr(op.vhost);
      e.shortstr(op.name);
      e.u32(op.id);
      return;
    case 'bound':
    case 'unbound':
      e.u8(op.op === 'bound' ? OpCode.Bound : OpCode.Unbound);
      return writeBinding(e, op.binding);
    default:
      return writeAccessOp(e, op);
  }
}

/** Throws (RangeError from the decoder, or Error) when the payload does not hold together. */
export function readDefinitionOp(d: Decoder): DefinitionOp {
  const code = d.u8();
  switch (code) {
    case OpCode.ExchangeDeclared:
      return { op: 'exchange.declared', exchange: readExchange(d) };
    case OpCode.ExchangeDeleted:
      return { op: 'exchange.deleted', vhost: d.shortstr(), name: d.shortstr() };
    case OpCode.QueueDeclared:
      return { op: 'queue.declared', queue: readQueue(d) };
    case OpCode.QueueDeleted:
      return { op: 'queue.deleted', vhost: d.shortstr(), name: d.shortstr(), id: d.u32() };
    case OpCode.Bound:
      return { op: 'bound', binding: readBinding(d) };
    case OpCode.Unbound:
      return { op: 'unbound', binding: readBinding(d) };
    default: {
      const op = readAccessOp(code, d);
      if (op === undefined) throw new Error(`unknown definition operation ${code}`);
      return op;
    }
  }
}

export function writeSnapshot(e: Encoder, d: Definitions): void {
  e.u32(d.nextQueueId);
  writeList(e, d.exchanges, writeExchange);
  writeList(e, d.queues, writeQueue);
  writeList(e, d.bindings, writeBinding);
  if (d.access !== undefined) writeAccessDefinitions(e, d.access);
}

export function readSnapshot(d: Decoder): Definitions {
  const nextQueueId = d.u32();
  const exchanges = readList(d, readExchange);
  const queues = readList(d, readQueue);
  const bindings = readList(d, readBinding);
  const access = d.remaining === 0 ? undefined : readAccessDefinitions(d);
  return { nextQueueId, exchanges, queues, bindings, access };
}

function writeExchange(e: Encoder, x: ExchangeDefinition): void {
  e.shortstr(x.vhost);
  e.shortstr(x.name);
  e.shortstr(x.type);
  e.u8((x.autoDelete ? AUTO_DELETE : 0) | (x.internal ? INTERNAL : 0));
  e.table(x.arguments);
  e.u32(x.id ?? NO_ID);
}

function readExchange(d: Decoder): ExchangeDefinition {
  const vhost = d.shortstr();
  const name = d.shortstr();
  const type = d.shortstr();
  const flags = d.u8();
  const args = d.table();
  const id = d.u32();
  return { vhost, name, type, autoDelete: (flags & AUTO_DELETE) !== 0, internal: (flags & INTERNAL) !== 0, arguments: args, id: id === NO_ID ? undefined : id };
}

function writeQueue(e: Encoder, q: QueueDefinition): void {
  e.shortstr(q.vhost);
  e.shortstr(q.name);
  e.u32(q.id);
  e.u8(q.autoDelete ? AUTO_DELETE : 0);
  e.table(q.arguments);
}

function readQueue(d: Decoder): QueueDefinition {
  const vhost = d.shortstr();
  const name = d.shortstr();
  const id = d.u32();
  const flags = d.u8();
  return { vhost, name, id, autoDelete: (flags & AUTO_DELETE) !== 0, arguments: d.table() };
}

function writeBinding(e: Encoder, b: BindingDefinition): void {
  e.shortstr(b.vhost);
  e.shortstr(b.source);
  e.shortstr(b.destination);
  e.u8(b.destinationKind === 'queue' ? 1 : 2);
  e.shortstr(b.routingKey);
  e.table(b.arguments);
}

function readBinding(d: Decoder): BindingDefinition {
  const vhost = d.shortstr();
  const source = d.shortstr();
  const destination = d.shortstr();
  const kind = d.u8();
  if (kind !== 1 && kind !== 2) throw new Error(`unknown binding destination kind ${kind}`);
  return { vhost, source, destination, destinationKind: kind === 1 ? 'queue' : 'exchange', routingKey: d.shortstr(), arguments: d.table() };
}
