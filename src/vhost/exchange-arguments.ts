import { consistentHashArgumentsRefusal } from '../exchange/consistent-hash-router.js';
import { ExchangeType, isExchangeType } from '../exchange/create-exchange-router.js';
import { AmqpError } from '../protocol/amqp-error.js';
import type { FieldTable } from '../protocol/field-value.js';
import { ReplyCode } from '../protocol/generated/amqp-constants.js';

/**
 * The checks a plugin exchange type makes of a new exchange's arguments
 * (its validate callback in RabbitMQ), with the plugins' reply texts. A
 * redeclare is only compared, never validated, as in RabbitMQ.
 */
export function assertExchangeArguments(type: string, args: FieldTable): void {
  if (type === ExchangeType.ConsistentHash) {
    const refusal = consistentHashArgumentsRefusal(args);
    if (refusal !== undefined) throw new AmqpError(ReplyCode.PRECONDITION_FAILED, refusal);
  } else if (type === ExchangeType.DelayedMessage) {
    const routedAs = args['x-delayed-type'];
    // The plugin loops forever on a delayed exchange routing as a delayed exchange; refused here.
    if (typeof routedAs !== 'string' || routedAs === ExchangeType.DelayedMessage) {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED, "Invalid argument, 'x-delayed-type' must be an existing exchange type");
    }
    // As the plugin does (rabbit_exchange:check_type): a type name nobody knows is a connection error.
    if (!isExchangeType(routedAs)) throw new AmqpError(ReplyCode.COMMAND_INVALID, `unknown exchange type '${routedAs}'`);
    // The arguments must also suit the type it routes as (a consistent-hash one's hash-header, say).
    assertExchangeArguments(routedAs, args);
  }
}
