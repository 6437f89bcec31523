import type { Test } from 'tap';
import * as amqp from 'amqplib';
import type { Broker, BrokerOptions } from '../../src/index.js';

/** A broker on 127.0.0.1 and a free port for the duration of one test. */
export async function withBroker(t: Test, options: BrokerOptions = {}): Promise<Broker> {
  // Loaded when first needed: tests aimed at an external broker (AMQP_URL) then never load this one.
  const { startBroker } = await import('../../src/index.js');
  const broker = await startBroker({ logLevel: 'silent', ...options });
  t.teardown(() => broker.close());
  return broker;
}

/** An amqplib (promise API) connection, closed when the test ends. */
export async function connect(t: Test, broker: Broker, options: amqp.Options.Connect = {}): Promise<amqp.ChannelModel> {
  const connection = await amqp.connect({ hostname: '127.0.0.1', port: broker.port, username: 'guest', password: 'guest', ...options });
  // Errors surface through the channel or close assertions of each test, not as uncaught events.
  connection.on('error', () => {});
  t.teardown(() => connection.close().catch(() => {}));
  return connection;
}

/** A broker and one open channel on it. */
export async function brokerChannel(t: Test, options: BrokerOptions = {}): Promise<{ broker: Broker; connection: amqp.ChannelModel; channel: amqp.Channel }> {
  const broker = await withBroker(t, options);
  const connection = await connect(t, broker);
  const channel = await connection.createChannel();
  return { broker, connection, channel };
}

/** Resolves with the next `n` messages a consumer receives on `queue`, or rejects after `ms`. */
export function collect(channel: amqp.Channel, queue: string, n: number, options: amqp.Options.Consume = { noAck: true }, ms = 5000): Promise<amqp.ConsumeMessage[]> {
  return new Promise((resolve, reject) => {
    const got: amqp.ConsumeMessage[] = [];
    const timer = setTimeout(() => reject(new Error(`timed out with ${got.length} of ${n} messages`)), ms);
    channel
      .consume(queue, (m) => {
        if (m === null) return;
        got.push(m);
        if (got.length === n) {
          clearTimeout(timer);
          resolve(got);
        }
      }, options)
      .catch(reject);
  });
}

/** Waits for the channel to be closed by the broker and returns the error it closed with. */
export function channelError(channel: amqp.Channel): Promise<Error & { code?: number; classId?: number; methodId?: number }> {
  return new Promise((resolve) => channel.once('error', resolve));
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Rejects if `promise` has not settled within `ms`: every wait in a test is bounded. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** Polls `check` until it holds, for what the broker does asynchronously; rejects after `ms`. */
export async function eventually(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await delay(10);
  }
}

/** Resolves when the connection closes, with the error the broker closed it with (undefined when the client closed it). */
export function connectionClosed(connection: amqp.ChannelModel): Promise<(Error & { code?: number }) | undefined> {
  return new Promise((resolve) => connection.once('close', resolve));
}

/**
 * Asserts that the broker refuses `op` by closing only its channel, with the reply code and the reply
 * text (matched as a substring or pattern), and that the connection stays usable.
 */
export async function assertChannelRefusal(t: Test, connection: amqp.ChannelModel, op: Promise<unknown>, code: number, text: string | RegExp): Promise<void> {
  const err = await op.then(
    () => undefined,
    (e: Error & { code?: number }) => e,
  );
  if (err === undefined) {
    t.fail(`expected the broker to refuse with ${code}`);
    return;
  }
  t.equal(err.code, code, 'reply code');
  // A string pattern matches as a substring.
  t.match(err.message, text, 'reply text');
  const probe = await connection.createChannel();
  await probe.close();
}

/** Whether a queue exists, asked on a channel of its own (a failed passive declare closes its channel). */
export async function queueExists(connection: amqp.ChannelModel, name: string): Promise<boolean> {
  return passiveCheck(connection, (ch) => ch.checkQueue(name));
}

/** Whether an exchange exists, asked on a channel of its own. */
export async function exchangeExists(connection: amqp.ChannelModel, name: string): Promise<boolean> {
  return passiveCheck(connection, (ch) => ch.checkExchange(name));
}

async function passiveCheck(connection: amqp.ChannelModel, check: (ch: amqp.Channel) => Promise<unknown>): Promise<boolean> {
  const ch = await openChannel(connection);
  try {
    await check(ch);
    await ch.close();
    return true;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return false;
    throw err;
  }
}

/** A channel the broker may close on purpose: the closure shows in the failed operation, not as an unhandled 'error' event. */
export async function openChannel(connection: amqp.ChannelModel): Promise<amqp.Channel> {
  const ch = await connection.createChannel();
  ch.on('error', () => {});
  return ch;
}

/** Publishes one message through a fresh channel and gets it back: proof that a connection (and the broker) still works. */
export async function roundTrip(connection: amqp.ChannelModel, body = 'ping'): Promise<string> {
  const ch = await connection.createChannel();
  const { queue } = await ch.assertQueue('', { exclusive: true });
  ch.sendToQueue(queue, Buffer.from(body));
  await eventually(async () => (await ch.checkQueue(queue)).messageCount === 1, 2000, 'message queued');
  const got = await ch.get(queue, { noAck: true });
  await ch.close();
  return got === false ? '' : got.content.toString();
}
