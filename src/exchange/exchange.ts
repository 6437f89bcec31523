import type { FieldTable } from '../protocol/field-value.js';
import type { Queue } from '../queue/queue.js';
import type { DelayedMessages } from './delayed-messages.js';
import type { ExchangeRouter } from './exchange-router.js';

/** Where a binding leads: a queue, or another exchange (exchange-to-exchange bindings). */
export type Destination = Queue | Exchange;

export interface ExchangeOptions {
  readonly type: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly arguments: FieldTable;
}

export class Exchange {
  /** Exchanges bound to this one as destination, so deleting it can remove those bindings too. */
  readonly boundFrom = new Set<Exchange>();
  /** Router's mark of the last routing that reached this exchange (see Router). */
  routeMark = 0;
  /** An x-delayed-message exchange's waiting messages; set by the virtual host. */
  delayed: DelayedMessages | undefined;

  constructor(
    readonly name: string,
    readonly options: ExchangeOptions,
    readonly router: ExchangeRouter<Destination>,
  ) {}

  get type(): string {
    return this.options.type;
  }

  /** The alternate-exchange argument, where the message goes when this exchange routes it nowhere. */
  get alternateExchange(): string | undefined {
    const ae = this.options.arguments['alternate-exchange'];
    return typeof ae === 'string' ? ae : undefined;
  }
}
