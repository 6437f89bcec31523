import { AmqpError } from '../protocol/amqp-error.js';
import { type FieldTable, type FieldValue, plainValue } from '../protocol/field-value.js';
import { ReplyCode } from '../protocol/generated/amqp-constants.js';
import { typeName, typeTag } from './equivalence.js';

/**
 * RabbitMQ's (3.10) checks of a new queue's x-arguments, with its reply
 * texts, which quote Erlang terms: a client that sends a TTL as a string
 * learns it at declare time, not when the queue misbehaves. Arguments the
 * broker does not know are not checked, as in RabbitMQ. A redeclare is only
 * compared (equivalence.ts), never validated.
 */

/** Why a value is refused, in RabbitMQ's words; undefined when it is fine. */
type Check = (value: FieldValue, args: FieldTable) => string | undefined;

const INTEGER_TAGS: ReadonlySet<string> = new Set(['b', 'B', 's', 'u', 'I', 'i', 'l']);
/** RabbitMQ's longest message TTL or queue expiry: ten years, in milliseconds. */
const MAX_EXPIRY = 315_360_000_000;
const MAX_PRIORITY = 255;

/** Refusal of a value that is not of an AMQP integer type (signed or unsigned), or undefined. */
export function integerRefusal(value: FieldValue): string | undefined {
  return INTEGER_TAGS.has(typeTag(value)) ? undefined : `"expected integer, got ${typeName(value)}"`;
}

export function invalidArgument(key: string, queue: string, vhost: string, reason: string): AmqpError {
  return new AmqpError(ReplyCode.PRECONDITION_FAILED, `invalid arg '${key}' for queue '${queue}' in vhost '${vhost}': ${reason}`);
}

const unacceptable = (v: FieldValue): string => `{unacceptable_type,${typeName(v)}}`;

/** An integer, then `range` on its value (as a number, and as text for the message). */
const integer =
  (range: (n: number, text: string) => string | undefined): Check =>
  (v) => {
    const refusal = integerRefusal(v);
    if (refusal !== undefined) return refusal;
    const plain = plainValue(v) as number | bigint;
    return range(Number(plain), String(plain));
  };

const nonNegative = (n: number, s: string): string | undefined => (n < 0 ? `{value_negative,${s}}` : undefined);
const positive = (n: number, s: string): string | undefined => nonNegative(n, s) ?? (n === 0 ? `{value_zero,${s}}` : undefined);

/** Refusal of a TTL or expiry in milliseconds (`text` is how the message shows it), or undefined. */
export function expiryRefusal(n: number, text: string): string | undefined {
  return nonNegative(n, text) ?? (n > MAX_EXPIRY ? `{value_too_large,${text}}` : undefined);
}

const oneOf =
  (allowed: readonly string[], refusal: (v: string) => string): Check =>
  (v) => {
    if (typeof v !== 'string') return unacceptable(v);
    return allowed.includes(v) ? undefined : refusal(v);
  };

/** In RabbitMQ's order: with several bad arguments, the first one here is reported. */
const CHECKS: readonly (readonly [string, Check])[] = [
  ['x-expires', integer((n, s) => (n === 0 ? `{value_zero,${s}}` : expiryRefusal(n, s)))],
  ['x-message-ttl', integer(expiryRefusal)],
  // x-dead-letter-exchange is checked first of all, with a wording of its own (checkDeadLetterExchange).
  ['x-dead-letter-routing-key', (v, args) => {
    if (typeof v !== 'string') return unacceptable(v);
    return args['x-dead-letter-exchange'] === undefined ? 'routing_key_but_no_dlx_defined' : undefined;
  }],
  ['x-dead-letter-strategy', oneOf(['at-most-once', 'at-least-once'], () => 'invalid_dlx_strategy')],
  ['x-max-length', integer(nonNegative)],
  ['x-max-length-bytes', integer(nonNegative)],
  ['x-max-in-memory-length', integer(nonNegative)],
  ['x-max-in-memory-bytes', integer(nonNegative)],
  ['x-max-priority', integer((n, s) => nonNegative(n, s) ?? (n > MAX_PRIORITY ? `{max_value_exceeded,${s}}` : undefined))],
  ['x-overflow', oneOf(['drop-head', 'reject-publish', 'reject-publish-dlx'], () => 'invalid_overflow')],
  ['x-queue-mode', oneOf(['default', 'lazy'], (v) => `"unsupported queue mode '${v}'"`)],
  ['x-queue-version', integer((n, s) => (n === 1 || n === 2 ? undefined : `"unsupported queue version '${s}'"`))],
  ['x-single-active-consumer', (v) => (typeof v === 'boolean' ? undefined : unacceptable(v))],
  ['x-quorum-initial-group-size', integer(positive)],
  ['x-max-age', (v) => {
    if (typeof v !== 'string') return unacceptable(v);
    const age = /^([0-9]+)[YMDhms]$/.exec(v);
    return age !== null && Number(age[1]) > 0 ? undefined : 'invalid_max_age';
  }],
  ['x-stream-max-segment-size-bytes', integer(nonNegative)],
  ['x-initial-cluster-size', integer(positive)],
  ['x-queue-leader-locator', oneOf(['client-local', 'balanced', 'random', 'least-leaders'], () => 'invalid_queue_locator_arg')],
];

interface QueueType {
  /** RabbitMQ's module name, which its messages show. */
  readonly module: string;
  /** The arguments of all queue types that this one takes; others (of other types) are refused. */
  readonly arguments: ReadonlySet<string>;
  /** Whether this broker makes queues of the type (after RabbitMQ's own checks, so a bad declare reads as in RabbitMQ). */
  readonly served: boolean;
}

/**
 * The queue types RabbitMQ knows, refusing what RabbitMQ refuses for each. A
 * quorum queue is a classic durable queue with a delivery count and limit
 * (queue/quorum-deliveries.ts). Streams are refused: their consumers read
 * from offsets, which a queue that forgets acked messages cannot serve.
 */
const QUEUE_TYPES: Readonly<Record<string, QueueType>> = {
  classic: {
    module: 'rabbit_classic_queue',
    arguments: new Set([
      'x-expires', 'x-message-ttl', 'x-dead-letter-exchange', 'x-dead-letter-routing-key', 'x-max-length',
      'x-max-length-bytes', 'x-max-priority', 'x-overflow', 'x-queue-mode', 'x-single-active-consumer',
      'x-queue-type', 'x-queue-master-locator', 'x-queue-version',
    ]),
    served: true,
  },
  quorum: {
    module: 'rabbit_quorum_queue',
    arguments: new Set([
      'x-dead-letter-exchange', 'x-dead-letter-routing-key', 'x-dead-letter-strategy', 'x-expires', 'x-max-length',
      'x-max-length-bytes', 'x-max-in-memory-length', 'x-max-in-memory-bytes', 'x-overflow', 'x-single-active-consumer',
      'x-queue-type', 'x-quorum-initial-group-size', 'x-delivery-limit', 'x-message-ttl', 'x-queue-leader-locator',
    ]),
    served: true,
  },
  stream: {
    module: 'rabbit_stream_queue',
    arguments: new Set([
      'x-max-length-bytes', 'x-queue-type', 'x-max-age', 'x-stream-max-segment-size-bytes', 'x-initial-cluster-size',
      'x-queue-leader-locator',
    ]),
    served: false,
  },
};

const TYPED_ARGUMENTS: ReadonlySet<string> = new Set(Object.values(QUEUE_TYPES).flatMap((t) => [...t.arguments]));

export interface NewQueue {
  readonly name: string;
  readonly vhost: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly exclusive: boolean;
  readonly arguments: FieldTable;
}

/** Refuses (406) a queue RabbitMQ would not create, checking in RabbitMQ's order. */
export function validateNewQueue(q: NewQueue): void {
  const args = q.arguments;
  const fail = (key: string, reason: string): never => {
    throw invalidArgument(key, q.name, q.vhost, reason);
  };
  checkDeadLetterExchange(q);
  const type = queueType(args, fail);
  const rejectForeign = (): void => {
    for (const key of Object.keys(args)) {
      if (TYPED_ARGUMENTS.has(key) && !type.arguments.has(key)) {
        throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `invalid arg '${key}' for queue '${q.name}' in vhost '${q.vhost}' of queue type ${type.module}`);
      }
    }
  };
  // RabbitMQ looks at the type's own arguments before their values for quorum and stream queues, after them for classic ones.
  const classic = type === QUEUE_TYPES['classic'];
  if (!classic) rejectForeign();
  for (const [key, check] of CHECKS) {
    const value = args[key];
    // Another type's argument is refused as such, whatever its value.
    if (value === undefined || !type.arguments.has(key)) continue;
    const reason = check(value, args);
    if (reason !== undefined) fail(key, reason);
  }
  if (classic) rejectForeign();
  else refuseReplicatedProperties(q);
  if (!type.served) fail('x-queue-type', `queue type '${args['x-queue-type'] as string}' is not supported by this broker`);
}

/** The arguments a redeclare must repeat exactly: those of the queue's type, in RabbitMQ's order; others are not compared. */
export function comparedQueueArguments(current: FieldTable): Iterable<string> {
  const type = current['x-queue-type'];
  return (typeof type === 'string' && Object.hasOwn(QUEUE_TYPES, type) ? QUEUE_TYPES[type]! : QUEUE_TYPES['classic']!).arguments;
}

/** RabbitMQ generates no name for a quorum or stream queue. */
export function assertServerNamedAllowed(args: FieldTable): void {
  const type = args['x-queue-type'];
  const module = typeof type === 'string' && type !== 'classic' ? QUEUE_TYPES[type]?.module : undefined;
  if (module !== undefined) {
    throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `Cannot declare a server-named queue for type ${module}`);
  }
}

function checkDeadLetterExchange(q: NewQueue): void {
  const dlx = q.arguments['x-dead-letter-exchange'];
  if (dlx !== undefined && typeof dlx !== 'string') {
    throw new AmqpError(
      ReplyCode.PRECONDITION_FAILED,
      `invalid type '${typeName(dlx)}' for arg 'x-dead-letter-exchange' in queue '${q.name}' in vhost '${q.vhost}'`,
    );
  }
}

function queueType(args: FieldTable, fail: (key: string, reason: string) => never): QueueType {
  const value = args['x-queue-type'];
  if (value === undefined) return QUEUE_TYPES['classic']!;
  if (typeof value !== 'string') return fail('x-queue-type', unacceptable(value));
  return Object.hasOwn(QUEUE_TYPES, value) ? QUEUE_TYPES[value]! : fail('x-queue-type', `"unsupported queue type '${value}'"`);
}

/** Quorum and stream queues are replicated, so they must be durable and shared. */
function refuseReplicatedProperties(q: NewQueue): void {
  const property = q.autoDelete ? 'auto-delete' : q.exclusive ? 'exclusive-owner' : !q.durable ? 'non-durable' : undefined;
  if (property !== undefined) {
    throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `invalid property '${property}' for queue '${q.name}' in vhost '${q.vhost}'`);
  }
}
