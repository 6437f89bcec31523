import { DirectRouter } from './direct-router.js';
import type { ExchangeRouter } from './exchange-router.js';
import { FanoutRouter } from './fanout-router.js';
import { HeadersRouter } from './headers-router.js';
import { TopicRouter } from './topic-router.js';

/** The exchange types this broker routes for. */
export const ExchangeType = {
  Direct: 'direct',
  Fanout: 'fanout',
  Topic: 'topic',
  Headers: 'headers',
} as const;
export type ExchangeType = (typeof ExchangeType)[keyof typeof ExchangeType];

/**
 * A router for the exchange type, or undefined for a type this broker does
 * not know (the caller answers 503 COMMAND_INVALID, as RabbitMQ does for an
 * unknown exchange type).
 */
export function createExchangeRouter<D>(type: string): ExchangeRouter<D> | undefined {
  switch (type) {
    case ExchangeType.Direct: return new DirectRouter<D>();
    case ExchangeType.Fanout: return new FanoutRouter<D>();
    case ExchangeType.Topic: return new TopicRouter<D>();
    case ExchangeType.Headers: return new HeadersRouter<D>();
    default: return undefined;
  }
}
