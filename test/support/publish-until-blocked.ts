import type * as amqp from 'amqplib';

export interface Flood {
  /** Messages handed to the client, numbered 0..sent-1 in their messageId. */
  readonly sent: number;
  /** Numbers the broker has confirmed; keeps growing as confirms arrive after the flood. */
  readonly confirmed: ReadonlySet<number>;
}

/**
 * Publishes `body` to `queue`, numbering each message in its messageId, until
 * the broker sends connection.blocked, `max` messages are out or the clock
 * passes `until` (epoch milliseconds). Waits for
 * the socket to drain when the client buffers, as a well-behaved publisher
 * does, and for confirms when `window` messages are unconfirmed.
 */
export async function publishUntilBlocked(
  connection: amqp.ChannelModel,
  channel: amqp.ConfirmChannel,
  queue: string,
  body: Buffer,
  options: amqp.Options.Publish,
  limits: { readonly max: number; readonly window?: number; readonly until?: number },
): Promise<Flood> {
  const { max, window = Infinity, until = Infinity } = limits;
  const confirmed = new Set<number>();
  let answered = 0;
  let blocked = false;
  const blockedEvent = new Promise<void>((resolve) =>
    connection.once('blocked', () => {
      blocked = true;
      resolve();
    }),
  );
  // Resolves the wait for a confirm; called for every confirm, waited for or not.
  let confirmArrived = (): void => {};
  let sent = 0;
  while (sent < max && !blocked && Date.now() < until) {
    if (sent - answered >= window) {
      await Promise.race([new Promise<void>((resolve) => (confirmArrived = resolve)), blockedEvent]);
      continue;
    }
    const n = sent++;
    const more = channel.sendToQueue(queue, body, { ...options, messageId: String(n) }, (err) => {
      answered++;
      if (err === null || err === undefined) confirmed.add(n);
      confirmArrived();
    });
    // Once blocked, the broker stops reading: the buffer will not drain, the blocked event ends the wait.
    if (!more) await Promise.race([new Promise((resolve) => channel.once('drain', resolve)), blockedEvent]);
    // While the socket takes everything, yield now and then so that confirms and connection.blocked are read.
    else if (n % 64 === 0) await new Promise(setImmediate);
  }
  return { sent, confirmed };
}
