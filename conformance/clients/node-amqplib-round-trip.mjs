// The clients' common scenario (see README.md) with amqplib (npm: amqplib, a
// devDependency of this project).
// Usage: node conformance/clients/node-amqplib-round-trip.mjs [amqp-url]
import { isDeepStrictEqual } from 'node:util';
import * as amqp from 'amqplib';
import { fail, routes, url } from './node-scenario.mjs';

const prefix = 'node-amqplib';

const connection = await amqp.connect(url);
const channel = await connection.createConfirmChannel();
const returned = [];
channel.on('return', (message) => returned.push(`${message.fields.replyCode} ${message.fields.replyText}`));
const { queue } = await channel.assertQueue('', { exclusive: true });
for (const { kind, bindingKey, bindingArguments } of routes) {
  // amqplib's exchanges default to durable, the other clients' do not.
  await channel.assertExchange(`${prefix}-${kind}`, kind, { durable: false });
  console.log(`declared ${kind} exchange ${prefix}-${kind}`);
  await channel.bindQueue(queue, `${prefix}-${kind}`, bindingKey, bindingArguments);
}
console.log(`bound queue ${queue} to ${routes.length} exchanges`);

for (const { kind, routingKey, headers } of routes) {
  channel.publish(`${prefix}-${kind}`, routingKey, Buffer.from(`hello via ${prefix}-${kind}`), { contentType: 'text/plain', headers, mandatory: true });
}
await channel.waitForConfirms(); // rejects if any was nacked
if (returned.length > 0) fail(`returned: ${returned}`);
console.log(`published and confirmed ${routes.length} messages`);

const received = [];
await new Promise((resolve) => {
  void channel.consume(queue, (message) => {
    const { exchange, routingKey } = message.fields;
    console.log(`received "${message.content}" exchange=${exchange} routing_key=${routingKey}`);
    received.push([message.content.toString(), exchange, routingKey]);
    channel.ack(message);
    if (received.length === routes.length) resolve();
  }, { noAck: false });
});
const expected = routes.map(({ kind, routingKey }) => [`hello via ${prefix}-${kind}`, `${prefix}-${kind}`, routingKey]);
if (!isDeepStrictEqual(received, expected)) fail(`expected ${JSON.stringify(expected)}, got ${JSON.stringify(received)}`);
// Closing the channel would requeue anything it still had unacked: an empty
// queue seen from another channel proves the acks were taken.
await channel.close();
const checker = await connection.createChannel();
const { messageCount } = await checker.checkQueue(queue);
if (messageCount !== 0) fail(`${messageCount} messages back in the queue after acking them all`);
console.log(`acked ${received.length} messages, queue empty`);
for (const { kind } of routes) await checker.deleteExchange(`${prefix}-${kind}`);
await connection.close();
console.log('closed cleanly');
