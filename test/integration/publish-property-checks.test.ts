import type * as amqp from 'amqplib';
import t, { type Test } from 'tap';
import type { BrokerOptions } from '../../src/index.js';
import { collect, connect, openChannel, withBroker } from '../support/broker.js';
import { txSelect } from '../support/channel-methods.js';

// Properties the broker checks when a message arrives, as RabbitMQ does and in its words:
// a consumer may trust the user-id property, since a publish whose user-id is not the
// user the publisher logged in as is refused; an expiration must be a valid TTL.

async function publisher(t: Test, options: BrokerOptions = {}): Promise<{ connection: amqp.ChannelModel; channel: amqp.Channel; queue: string }> {
  const broker = await withBroker(t, options);
  const connection = await connect(t, broker, { username: options.defaultUser ?? 'guest', password: options.defaultPassword ?? 'guest' });
  const channel = await openChannel(connection);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  return { connection, channel, queue };
}

/** The error that closes `channel`, or undefined when a round trip shows it still open. */
async function refusal(channel: amqp.Channel, queue: string): Promise<(Error & { code?: number }) | undefined> {
  const closed = new Promise<Error & { code?: number }>((resolve) => channel.once('error', resolve));
  const open = channel.checkQueue(queue).then(
    () => undefined,
    () => closed,
  );
  return Promise.race([closed, open]);
}

const refusedText = (claimed: string, user: string) =>
  `PRECONDITION_FAILED - user_id property set to '${claimed}' but authenticated user was '${user}'`;

t.test('a user-id other than the authenticated user closes the channel with 406; the connection stays', async (t) => {
  const { connection, channel, queue } = await publisher(t);
  channel.sendToQueue(queue, Buffer.from('m'), { userId: 'mallory' });
  const err = await refusal(channel, queue);
  t.equal(err?.code, 406);
  t.match(err?.message, refusedText('mallory', 'guest'));
  const other = await connection.createChannel();
  t.equal((await other.checkQueue(queue)).messageCount, 0, 'the message was not queued');
});

t.test("the authenticated user's own name passes, and reaches the consumer", async (t) => {
  const { channel, queue } = await publisher(t);
  channel.sendToQueue(queue, Buffer.from('m'), { userId: 'guest' });
  const [m] = await collect(channel, queue, 1);
  t.equal(m?.properties.userId, 'guest');
});

t.test('the check is against the user who logged in, not guest', async (t) => {
  const { channel, queue } = await publisher(t, { defaultUser: 'alice', defaultPassword: 'secret' });
  channel.sendToQueue(queue, Buffer.from('m'), { userId: 'alice' });
  t.equal((await collect(channel, queue, 1))[0]?.properties.userId, 'alice');
  channel.sendToQueue(queue, Buffer.from('m'), { userId: 'guest' });
  t.match((await refusal(channel, queue))?.message, refusedText('guest', 'alice'));
});

t.test('an empty user-id is a user-id too', async (t) => {
  const { channel, queue } = await publisher(t);
  channel.sendToQueue(queue, Buffer.from('m'), { userId: '' });
  t.match((await refusal(channel, queue))?.message, refusedText('', 'guest'));
});

t.test('the check runs at publish time in transactional and confirm channels as well', async (t) => {
  const { connection, channel, queue } = await publisher(t);
  await txSelect(channel);
  channel.sendToQueue(queue, Buffer.from('m'), { userId: 'bob' });
  t.match((await refusal(channel, queue))?.message, refusedText('bob', 'guest'), 'transactional, before any commit');
  const confirming = await connection.createConfirmChannel();
  confirming.on('error', () => {});
  const confirmed = new Promise<unknown>((resolve) => confirming.sendToQueue(queue, Buffer.from('m'), { userId: 'bob' }, resolve));
  t.match((await refusal(confirming, queue))?.message, refusedText('bob', 'guest'), 'confirm mode');
  t.ok(await confirmed, 'the pending confirm fails with the channel');
});

t.test('an expiration that is not a valid TTL closes the channel with 406, after the user-id check', async (t) => {
  const { connection, queue } = await publisher(t);
  const cases: [string, string][] = [
    ['abc', 'no_integer'],
    ['', 'no_integer'],
    [' 5', 'no_integer'],
    ['100abc', '{leftover_string,"abc"}'],
    ['5.0', '{leftover_string,".0"}'],
    ['-5', '{value_negative,-5}'],
    ['315360000001', '{value_too_large,315360000001}'],
  ];
  for (const [expiration, reason] of cases) {
    const channel = await openChannel(connection);
    channel.sendToQueue(queue, Buffer.from('m'), { expiration });
    t.match((await refusal(channel, queue))?.message, `PRECONDITION_FAILED - invalid expiration '${expiration}': ${reason}`, JSON.stringify(expiration));
  }
  const channel = await openChannel(connection);
  channel.sendToQueue(queue, Buffer.from('m'), { expiration: 'abc', userId: 'mallory' });
  t.match((await refusal(channel, queue))?.message, refusedText('mallory', 'guest'), 'the user-id is checked first');
});

t.test('valid expirations pass: digits with an optional sign, up to ten years', async (t) => {
  const { connection, queue } = await publisher(t);
  const channel = await openChannel(connection);
  // Long TTLs only, so the messages are still there to count.
  for (const expiration of ['60000', '+60000', '0060000', '315360000000']) channel.sendToQueue(queue, Buffer.from(expiration), { expiration });
  t.equal(await refusal(channel, queue), undefined, 'the channel stays open');
  t.equal((await channel.checkQueue(queue)).messageCount, 4);
});
