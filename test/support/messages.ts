import type * as amqp from 'amqplib';

/**
 * Publishes bodies "from".."to" to `queue` through the default exchange and
 * waits for a round trip on the same channel, so the broker has queued them
 * all when this resolves.
 */
export async function publishNumbered(channel: amqp.Channel, queue: string, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i++) channel.sendToQueue(queue, Buffer.from(String(i)));
  await channel.checkQueue(queue);
}

/** Message bodies as strings, with "r" appended to redelivered ones: order and flag in one comparable value. */
export function bodies(messages: readonly (amqp.Message | amqp.GetMessage)[]): string[] {
  return messages.map((m) => m.content.toString() + (m.fields.redelivered ? 'r' : ''));
}

/** basic.get until the queue is empty (no-ack unless told), in order. */
export async function drain(channel: amqp.Channel, queue: string, noAck = true): Promise<amqp.GetMessage[]> {
  const got: amqp.GetMessage[] = [];
  for (;;) {
    const m = await channel.get(queue, { noAck });
    if (m === false) return got;
    got.push(m);
  }
}

/** How many messages wait in `queue` (ready, not unacknowledged), by a passive declare. */
export async function readyCount(channel: amqp.Channel, queue: string): Promise<number> {
  return (await channel.checkQueue(queue)).messageCount;
}
