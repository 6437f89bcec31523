import { expiryRefusal } from '../vhost/queue-arguments.js';

/**
 * Why RabbitMQ refuses a message's expiration property, in its words, or
 * undefined when it is a valid TTL: a decimal integer (Erlang's
 * string:to_integer, so a sign is allowed but no space), nothing after it,
 * within the range of a queue's x-message-ttl.
 */
export function expirationRefusal(expiration: string): string | undefined {
  const digits = /^[+-]?[0-9]+/.exec(expiration)?.[0];
  if (digits === undefined) return 'no_integer';
  if (digits.length < expiration.length) return `{leftover_string,"${expiration.slice(digits.length)}"}`;
  return expiryRefusal(Number(digits), BigInt(digits).toString());
}
