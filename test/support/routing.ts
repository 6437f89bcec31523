import type * as amqp from 'amqplib';
import type { Test } from 'tap';
import { connect, withBroker } from './broker.js';
import { bodies, drain } from './messages.js';

/**
 * Helpers for routing tests. Publishes go through a confirm channel: once the
 * broker has acked a message it has routed it, and any basic.return for it
 * came first, so a test can look at every queue right away, without waiting.
 */
export async function routingChannel(t: Test): Promise<{ connection: amqp.ChannelModel; channel: amqp.ConfirmChannel }> {
  const broker = await withBroker(t);
  const connection = await connect(t, broker);
  const channel = await connection.createConfirmChannel();
  return { connection, channel };
}

/** Publishes one message and waits for its confirm; resolves with what the broker returned of it (basic.return). */
export async function publishSettled(
  channel: amqp.ConfirmChannel,
  exchange: string,
  routingKey: string,
  content: Buffer | string = 'm',
  options: amqp.Options.Publish = {},
): Promise<amqp.Message[]> {
  const returned: amqp.Message[] = [];
  const onReturn = (m: amqp.Message): void => void returned.push(m);
  channel.on('return', onReturn);
  try {
    channel.publish(exchange, routingKey, typeof content === 'string' ? Buffer.from(content) : content, options);
    await channel.waitForConfirms();
  } finally {
    channel.off('return', onReturn);
  }
  return returned;
}

/** A server-named exclusive queue, gone with the connection. */
export async function tempQueue(channel: amqp.Channel): Promise<string> {
  return (await channel.assertQueue('', { exclusive: true })).queue;
}

/** Takes every message waiting in each queue: the bodies by queue label, in order. */
export async function takeAll(channel: amqp.Channel, queues: Readonly<Record<string, string>>): Promise<Record<string, string[]>> {
  const got: Record<string, string[]> = {};
  for (const [label, queue] of Object.entries(queues)) got[label] = bodies(await drain(channel, queue));
  return got;
}

/** The message's properties named in `like`, for an exact comparison (t.match would accept any string containing the expected one). */
export function pickProperties(message: amqp.Message, like: object): Record<string, unknown> {
  const properties = message.properties as unknown as Record<string, unknown>;
  return Object.fromEntries(Object.keys(like).map((k) => [k, properties[k]]));
}
