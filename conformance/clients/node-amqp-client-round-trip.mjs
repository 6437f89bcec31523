// The clients' common scenario (see README.md) with @cloudamqp/amqp-client
// (npm: @cloudamqp/amqp-client, a devDependency of this project).
// Usage: node conformance/clients/node-amqp-client-round-trip.mjs [amqp-url]
import { isDeepStrictEqual } from 'node:util';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { fail, routes, url } from './node-scenario.mjs';

const prefix = 'node-amqp-client';

const connection = await new AMQPClient(url).connect();
const channel = await connection.channel();
await channel.confirmSelect();
const returned = [];
channel.onReturn = (message) => returned.push(`${message.replyCode} ${message.replyText}`);
// A server-named queue defaults to auto-delete here, and exchanges to durable:
// the other clients' defaults are the opposite.
const { name: queue } = await channel.queueDeclare('', { exclusive: true, autoDelete: false });
for (const { kind, bindingKey, bindingArguments } of routes) {
  await channel.exchangeDeclare(`${prefix}-${kind}`, kind, { durable: false });
  console.log(`declared ${kind} exchange ${prefix}-${kind}`);
  await channel.queueBind(queue, `${prefix}-${kind}`, bindingKey, bindingArguments);
}
console.log(`bound queue ${queue} to ${routes.length} exchanges`);

// In confirm mode each basicPublish resolves on the broker's basic.ack and rejects on a nack.
await Promise.all(routes.map(({ kind, routingKey, headers }) =>
  channel.basicPublish(`${prefix}-${kind}`, routingKey, `hello via ${prefix}-${kind}`, { contentType: 'text/plain', headers }, true)));
if (returned.length > 0) fail(`returned: ${returned}`);
console.log(`published and confirmed ${routes.length} messages`);

const received = [];
await new Promise((resolve, reject) => {
  channel.basicConsume(queue, { noAck: false }, async (message) => {
    const { exchange, routingKey } = message;
    console.log(`received "${message.bodyToString()}" exchange=${exchange} routing_key=${routingKey}`);
    received.push([message.bodyToString(), exchange, routingKey]);
    await message.ack();
    if (received.length === routes.length) resolve();
  }).catch(reject);
});
const expected = routes.map(({ kind, routingKey }) => [`hello via ${prefix}-${kind}`, `${prefix}-${kind}`, routingKey]);
if (!isDeepStrictEqual(received, expected)) fail(`expected ${JSON.stringify(expected)}, got ${JSON.stringify(received)}`);
// Closing the channel would requeue anything it still had unacked: an empty
// queue seen from another channel proves the acks were taken.
await channel.close();
const checker = await connection.channel();
const { messageCount } = await checker.queueDeclare(queue, { passive: true });
if (messageCount !== 0) fail(`${messageCount} messages back in the queue after acking them all`);
console.log(`acked ${received.length} messages, queue empty`);
for (const { kind } of routes) await checker.exchangeDelete(`${prefix}-${kind}`);
await connection.close();
console.log('closed cleanly');
