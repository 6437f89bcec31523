import type * as amqp from 'amqplib';
import t from 'tap';
import { assertChannelRefusal, brokerChannel, channelError, connect, delay, eventually, openChannel, within } from '../support/broker.js';
import { tempQueue } from '../support/routing.js';

/**
 * Direct reply-to (RabbitMQ's amq.rabbitmq.reply-to): an RPC client
 * consumes the pseudo-queue with no-ack, publishes requests with that
 * reply_to, and gets replies sent to the name the broker put in their place,
 * without declaring a queue. Errors as RabbitMQ 3.10 gives them.
 */
const REPLY_TO = 'amq.rabbitmq.reply-to';

/** An RPC server on its own connection: answers every request on `queue` to its reply_to, echoing the correlation id. */
async function rpcServer(connection: amqp.ChannelModel, queue: string): Promise<amqp.Message[]> {
  const channel = await connection.createChannel();
  const requests: amqp.Message[] = [];
  await channel.consume(
    queue,
    (m) => {
      if (m === null) return;
      requests.push(m);
      channel.publish('', m.properties.replyTo as string, Buffer.from(`re: ${m.content.toString()}`), { correlationId: m.properties.correlationId });
    },
    { noAck: true },
  );
  return requests;
}

t.test('an RPC round trip through amq.rabbitmq.reply-to', async (t) => {
  const { broker, connection, channel } = await brokerChannel(t);
  // Not exclusive: the server consumes it from another connection.
  const { queue: requestQueue } = await channel.assertQueue('', { autoDelete: true });
  const requests = await rpcServer(await connect(t, broker), requestQueue);
  const replies: amqp.ConsumeMessage[] = [];
  const { consumerTag } = await channel.consume(REPLY_TO, (m) => m !== null && replies.push(m), { noAck: true });
  channel.sendToQueue(requestQueue, Buffer.from('one'), { replyTo: REPLY_TO, correlationId: 'c1' });
  channel.sendToQueue(requestQueue, Buffer.from('two'), { replyTo: REPLY_TO, correlationId: 'c2' });
  await eventually(() => replies.length === 2, 5000, 'both replies');
  t.same(replies.map((m) => [m.content.toString(), m.properties.correlationId]), [['re: one', 'c1'], ['re: two', 'c2']]);
  t.ok(replies.every((m) => m.fields.consumerTag === consumerTag && m.fields.exchange === ''), 'delivered to the reply consumer');

  const replyTo = requests[0]!.properties.replyTo as string;
  t.match(replyTo, /^amq\.rabbitmq\.reply-to\.[A-Za-z0-9_-]+$/, 'the server sees a generated reply name');
  t.equal(requests[1]!.properties.replyTo, replyTo, 'the same name for every request of the channel');
  t.equal(replies[0]!.fields.routingKey, replyTo);
  const capabilities = connection.connection.serverProperties['capabilities'] as unknown as Record<string, unknown>;
  t.equal(capabilities['direct_reply_to'], true, 'the capability is announced');
});

t.test('each channel gets its own reply name, and a reply reaches only its channel', async (t) => {
  const { broker, connection } = await brokerChannel(t);
  const server = await (await connect(t, broker)).createChannel();
  const names: string[] = [];
  const received: string[][] = [[], []];
  for (const i of [0, 1]) {
    const ch = await connection.createChannel();
    await ch.consume(REPLY_TO, (m) => m !== null && received[i]!.push(m.content.toString()), { noAck: true });
    const q = await tempQueue(ch);
    ch.sendToQueue(q, Buffer.from('request'), { replyTo: REPLY_TO });
    await eventually(async () => (await ch.checkQueue(q)).messageCount === 1, 2000, 'request queued');
    const request = await ch.get(q, { noAck: true });
    names.push((request as amqp.GetMessage).properties.replyTo as string);
  }
  t.not(names[0], names[1]);
  server.publish('', names[1]!, Buffer.from('for the second'));
  server.publish('', 'unrelated', Buffer.from('via CC'), { headers: { CC: [names[0]] } });
  await eventually(() => received[0]!.length + received[1]!.length === 2, 5000, 'replies');
  t.same(received, [['via CC'], ['for the second']], 'CC keys reach reply consumers too, as in RabbitMQ');
});

t.test('publishing with reply_to amq.rabbitmq.reply-to without consuming it first is 406', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  const error = channelError(channel);
  channel.sendToQueue('anywhere', Buffer.from('request'), { replyTo: REPLY_TO });
  const err = await within(error, 5000, 'channel error');
  t.equal(err.code, 406);
  t.match(err.message, 'PRECONDITION_FAILED - fast reply consumer does not exist');

  // Another channel's reply consumer does not count; nor does one cancelled.
  const other = await connection.createChannel();
  await other.consume(REPLY_TO, () => {}, { noAck: true });
  const ch = await openChannel(connection);
  const { consumerTag } = await ch.consume(REPLY_TO, () => {}, { noAck: true });
  await ch.cancel(consumerTag);
  const again = channelError(ch);
  ch.sendToQueue('anywhere', Buffer.from('request'), { replyTo: REPLY_TO });
  t.equal((await within(again, 5000, 'channel error')).code, 406);
});

t.test('the reply consumer must be no-ack, and one per channel', async (t) => {
  const { connection } = await brokerChannel(t);
  await assertChannelRefusal(t, connection, (await openChannel(connection)).consume(REPLY_TO, () => {}, { noAck: false }), 406, 'PRECONDITION_FAILED - reply consumer cannot acknowledge');
  const ch = await openChannel(connection);
  await ch.consume(REPLY_TO, () => {}, { noAck: true });
  await assertChannelRefusal(t, connection, ch.consume(REPLY_TO, () => {}, { noAck: true }), 406, 'PRECONDITION_FAILED - reply consumer already set');
});

t.test('queue.declare of the pseudo-queue and of a live reply name succeeds; nothing else treats them as queues', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  t.same(await channel.checkQueue(REPLY_TO), { queue: REPLY_TO, messageCount: 0, consumerCount: 1 }, 'passive declare, as in RabbitMQ');
  t.same(await channel.assertQueue(REPLY_TO, { durable: true }), { queue: REPLY_TO, messageCount: 0, consumerCount: 1 }, 'any declare');
  const { consumerTag } = await channel.consume(REPLY_TO, () => {}, { noAck: true });
  const q = await tempQueue(channel);
  channel.sendToQueue(q, Buffer.from('request'), { replyTo: REPLY_TO });
  await eventually(async () => (await channel.checkQueue(q)).messageCount === 1, 2000, 'request queued');
  const name = ((await channel.get(q, { noAck: true })) as amqp.GetMessage).properties.replyTo as string;
  t.same(await channel.checkQueue(name), { queue: name, messageCount: 0, consumerCount: 1 });

  const notFound = `NOT_FOUND - no queue '${name}' in vhost '/'`;
  await assertChannelRefusal(t, connection, (await openChannel(connection)).get(name), 404, notFound);
  await assertChannelRefusal(t, connection, (await openChannel(connection)).bindQueue(name, 'amq.direct', 'k'), 404, notFound);
  await assertChannelRefusal(t, connection, (await openChannel(connection)).get(REPLY_TO), 404, `no queue '${REPLY_TO}'`);
  await channel.cancel(consumerTag);
  await assertChannelRefusal(t, connection, (await openChannel(connection)).checkQueue(name), 404, notFound);
});

t.test('a mandatory reply is returned once its consumer is gone, and only then', async (t) => {
  const { broker, connection } = await brokerChannel(t);
  const client = await connection.createChannel();
  const replies: string[] = [];
  await client.consume(REPLY_TO, (m) => m !== null && replies.push(m.content.toString()), { noAck: true });
  const q = await tempQueue(client);
  client.sendToQueue(q, Buffer.from('request'), { replyTo: REPLY_TO });
  await eventually(async () => (await client.checkQueue(q)).messageCount === 1, 2000, 'request queued');
  const name = ((await client.get(q, { noAck: true })) as amqp.GetMessage).properties.replyTo as string;

  const server = await (await connect(t, broker)).createConfirmChannel();
  const returned: string[] = [];
  server.on('return', (m: amqp.Message) => returned.push(`${(m.fields as { replyCode?: number }).replyCode} ${m.content.toString()}`));
  server.publish('', name, Buffer.from('delivered'), { mandatory: true });
  await server.waitForConfirms();
  await eventually(() => replies.length === 1, 5000, 'the reply');
  await client.close();
  server.publish('', name, Buffer.from('too late'), { mandatory: true });
  await server.waitForConfirms();
  await delay(50);
  t.same(returned, ['312 too late'], 'returned when the channel has closed, not while it consumed');
  t.same(replies, ['delivered']);
});
