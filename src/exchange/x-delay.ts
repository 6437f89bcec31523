import { Encoder } from '../protocol/encoder.js';
import { type FieldTable, plainValue, TypedValue } from '../protocol/field-value.js';
import { encodeBasicProperties } from '../protocol/generated/basic-properties.js';
import { Message } from '../queue/message.js';

/** The plugin's longest delay (Erlang's longest timer); a longer one routes at once, as there. */
export const MAX_DELAY = 4_294_967_295;

const INTEGER_TAGS: ReadonlySet<string> = new Set(['b', 'B', 's', 'u', 'I', 'i', 'l']);
const FLOAT_TAGS: ReadonlySet<string> = new Set(['f', 'd', 'D']);

/**
 * How long a delayed exchange holds a message, in ms, read from its x-delay
 * header as the plugin reads it: any integer type, a string of digits, or a
 * float (truncated). Undefined means route at once: no header, another
 * type, or a delay that is not in 1..MAX_DELAY.
 */
export function heldDelay(headers: FieldTable | undefined): number | undefined {
  const value = headers?.['x-delay'];
  let delay: number | undefined;
  if (typeof value === 'number') delay = Math.trunc(value);
  else if (typeof value === 'bigint') delay = Number(value);
  else if (typeof value === 'string') delay = /^[+-]?[0-9]+$/.test(value) ? Number(value) : undefined;
  else if (value instanceof TypedValue && (INTEGER_TAGS.has(value.type) || FLOAT_TAGS.has(value.type))) delay = Math.trunc(Number(plainValue(value)));
  return delay !== undefined && delay > 0 && delay <= MAX_DELAY ? delay : undefined;
}

/**
 * The message as a delayed exchange routes it once its delay is over: its
 * x-delay header turned negative, as the plugin does, so that no delayed
 * exchange it reaches next holds it again and consumers can tell it waited.
 */
export function delayServed(message: Message, delay: number): Message {
  const { headers, ...rest } = message.properties;
  const e = new Encoder();
  encodeBasicProperties(e, { ...rest, headers: { ...headers, 'x-delay': -delay } });
  return Message.fromParts(message.exchange, message.routingKey, e.take(), message.body);
}
