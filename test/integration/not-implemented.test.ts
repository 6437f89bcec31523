import t, { type Test } from 'tap';
import type * as amqp from 'amqplib';
import { brokerChannel, connectionClosed, within } from '../support/broker.js';
import { channelFlow, publishImmediate, qosWithSize, recover } from '../support/channel-methods.js';

/*
 * What RabbitMQ does not implement it refuses with 540 NOT_IMPLEMENTED, a
 * connection error; clients written against RabbitMQ expect exactly that.
 */

async function expectNotImplemented(t: Test, act: (channel: amqp.Channel) => unknown, text: string): Promise<void> {
  const { connection, channel } = await brokerChannel(t);
  channel.on('error', () => {});
  const closed = connectionClosed(connection);
  try {
    await act(channel);
  } catch {
    // The pending reply fails with the connection; the close reason is what counts.
  }
  const err = await within(closed, 3000, 'connection close');
  t.equal(err?.code, 540);
  t.match(err?.message, `NOT_IMPLEMENTED - ${text}`);
}

t.test('channel.flow active=true is answered with flow-ok', async (t) => {
  const { channel } = await brokerChannel(t);
  t.same(await channelFlow(channel, true), { active: true });
  t.ok(await channel.assertQueue('', { exclusive: true }), 'the channel carries on');
});

t.test('channel.flow active=false closes the connection with 540', (t) => expectNotImplemented(t, (ch) => channelFlow(ch, false), 'active=false'));

t.test('basic.publish with immediate=true closes the connection with 540', (t) =>
  expectNotImplemented(t, (ch) => publishImmediate(ch, 'anywhere', Buffer.from('x')), 'immediate=true'),
);

t.test('basic.recover with requeue=false closes the connection with 540', (t) => expectNotImplemented(t, (ch) => recover(ch, false), 'requeue=false'));

t.test('basic.qos with a prefetch size closes the connection with 540', (t) => expectNotImplemented(t, (ch) => qosWithSize(ch, 100, 1), 'prefetch_size!=0 (100)'));

t.test('basic.qos with prefetch size 0 is fine', async (t) => {
  const { channel } = await brokerChannel(t);
  t.same(await qosWithSize(channel, 0, 10), {});
});
