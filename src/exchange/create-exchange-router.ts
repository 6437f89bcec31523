import type { FieldTable } from '../protocol/field-value.js';
import { ConsistentHashRouter } from './consistent-hash-router.js';
import { DirectRouter } from './direct-router.js';
import type { ExchangeRouter } from './exchange-router.js';
import { FanoutRouter } from './fanout-router.js';
import { HeadersRouter } from './headers-router.js';
import { TopicRouter } from './topic-router.js';

/** The exchange types this broker routes for, with RabbitMQ's plugin types. */
export const ExchangeType = {
  Direct: 'direct',
  Fanout: 'fanout',
  Topic: 'topic',
  Headers: 'headers',
  ConsistentHash: 'x-consistent-hash',
  /** Holds messages with an x-delay header, then routes them as its x-delayed-type argument says. */
  DelayedMessage: 'x-delayed-message',
} as const;
export type ExchangeType = (typeof ExchangeType)[keyof typeof ExchangeType];

const TYPES: ReadonlySet<string> = new Set(Object.values(ExchangeType));

/** Whether the broker knows the type (RabbitMQ answers an unknown one with 503 COMMAND_INVALID). */
export function isExchangeType(type: string): type is ExchangeType {
  return TYPES.has(type);
}

/**
 * A router for the exchange type, or undefined for a type this broker does
 * not know. `args` are the exchange's arguments, already validated: a
 * consistent-hash exchange reads what to hash from them, and a delayed one
 * routes as the type they name (undefined when they name none).
 */
export function createExchangeRouter<D extends { readonly name: string }>(type: string, args: FieldTable = {}): ExchangeRouter<D> | undefined {
  switch (type) {
    case ExchangeType.Direct: return new DirectRouter<D>();
    case ExchangeType.Fanout: return new FanoutRouter<D>();
    case ExchangeType.Topic: return new TopicRouter<D>();
    case ExchangeType.Headers: return new HeadersRouter<D>();
    case ExchangeType.ConsistentHash: return new ConsistentHashRouter<D>(args);
    case ExchangeType.DelayedMessage: {
      const routedAs = args['x-delayed-type'];
      return typeof routedAs === 'string' && routedAs !== ExchangeType.DelayedMessage ? createExchangeRouter<D>(routedAs, args) : undefined;
    }
    default: return undefined;
  }
}
