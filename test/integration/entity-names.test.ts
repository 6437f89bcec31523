import t from 'tap';
import { brokerChannel, channelError, exchangeExists, openChannel, queueExists } from '../support/broker.js';

// As RabbitMQ 3.10.8 does (checked side by side against the Debian
// package): CR and LF are removed from the names that exchange and queue
// declare, delete, bind and unbind carry, so a declare of "q\n" makes q and
// later references find it; basic.publish, basic.get, basic.consume and
// queue.purge take their names as given.

t.test('declares strip CR and LF from queue and exchange names', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  t.equal((await channel.assertQueue('lines_q\n', { durable: false })).queue, 'lines_q', 'declare-ok names the stripped queue');
  t.ok(await queueExists(connection, 'lines_q'), 'a passive declare of the stripped name finds it');
  t.equal((await (await openChannel(connection)).checkQueue('lines\r_q')).queue, 'lines_q', 'so does a passive declare with CR');
  await channel.assertExchange('lines\r\n_x', 'fanout', { durable: false });
  t.ok(await exchangeExists(connection, 'lines_x'), 'the exchange is declared without them');
  t.match((await channel.assertQueue('\r\n', { durable: false })).queue, /^amq\.gen-/, 'a name of nothing but CR and LF is a server-named queue');
});

t.test('binds, unbinds and deletes find the stripped names', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  await channel.assertQueue('bq', { durable: false });
  await channel.assertExchange('bx', 'fanout', { durable: false });
  await channel.assertExchange('bx2', 'fanout', { durable: false });
  await channel.bindExchange('bx2\r', 'bx\n', '');
  await channel.bindQueue('bq\n', 'bx2\r', '');
  channel.publish('bx', '', Buffer.from('through both'));
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal((await channel.get('bq', { noAck: true }) || undefined)?.content.toString(), 'through both', 'the bindings were made between the stripped names');
  await channel.unbindQueue('bq\r', 'bx2\n', '');
  channel.publish('bx2', '', Buffer.from('after unbind'));
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(await channel.get('bq', { noAck: true }), false, 'queue.unbind found the binding');
  await channel.deleteQueue('bq\n');
  await channel.deleteExchange('bx2\r');
  t.notOk(await queueExists(connection, 'bq'), 'queue.delete deleted the stripped name');
  t.notOk(await exchangeExists(connection, 'bx2'), 'exchange.delete deleted the stripped name');
});

t.test('basic.get, basic.consume and queue.purge take names as given', async (t) => {
  const { connection, channel } = await brokerChannel(t);
  await channel.assertQueue('gq', { durable: false });
  for (const [what, op] of [
    ['basic.get', (ch: Awaited<ReturnType<typeof openChannel>>) => ch.get('gq\n')],
    ['basic.consume', (ch: Awaited<ReturnType<typeof openChannel>>) => ch.consume('gq\r', () => {})],
    ['queue.purge', (ch: Awaited<ReturnType<typeof openChannel>>) => ch.purgeQueue('gq\n')],
  ] as const) {
    const ch = await openChannel(connection);
    const failed = channelError(ch);
    await op(ch).catch(() => {});
    t.equal((await failed).code, 404, `${what} of a name with CR or LF is 404`);
  }
  t.ok(await channel.checkQueue('gq'), 'the channel that declared it is fine');
});
