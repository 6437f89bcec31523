import type * as amqp from 'amqplib';
import t from 'tap';
import { assertChannelRefusal, collect, connect, openChannel } from '../support/broker.js';
import { restartableBroker } from '../support/data-dir.js';
import { publishSettled, routingChannel, tempQueue } from '../support/routing.js';

/**
 * The x-consistent-hash exchange of RabbitMQ's bundled plugin: the binding
 * key is a weight, each message reaches one queue chosen by a hash of its
 * routing key (or a header or property), shares follow the weights.
 */

/** Declares a consistent-hash exchange and one server-named queue per weight, bound with it. */
async function hashScene(channel: amqp.Channel, weights: readonly number[], args: Record<string, unknown> = {}): Promise<{ exchange: string; queues: string[] }> {
  const exchange = `chx-${Math.random().toString(36).slice(2)}`;
  await channel.assertExchange(exchange, 'x-consistent-hash', { durable: false, arguments: args });
  const queues: string[] = [];
  for (const weight of weights) {
    const queue = await tempQueue(channel);
    await channel.bindQueue(queue, exchange, String(weight));
    queues.push(queue);
  }
  return { exchange, queues };
}

/** Publishes one message per key (the key as body), confirmed. */
async function publishKeys(channel: amqp.ConfirmChannel, exchange: string, keys: readonly string[], options: (key: string) => amqp.Options.Publish = () => ({})): Promise<void> {
  for (const key of keys) channel.publish(exchange, key, Buffer.from(key), options(key));
  await channel.waitForConfirms();
}

async function counts(channel: amqp.Channel, queues: readonly string[]): Promise<number[]> {
  return Promise.all(queues.map(async (q) => (await channel.checkQueue(q)).messageCount));
}

/** Takes every waiting message: the queue index each body arrived in. */
async function placement(channel: amqp.Channel, queues: readonly string[]): Promise<Map<string, number>> {
  const where = new Map<string, number>();
  const waiting = await counts(channel, queues);
  for (const [i, queue] of queues.entries()) {
    if (waiting[i] === 0) continue;
    const got = await collect(channel, queue, waiting[i]!);
    for (const m of got) where.set(m.content.toString(), i);
    await channel.cancel(got[0]!.fields.consumerTag);
  }
  return where;
}

const keys = (n: number, prefix = 'key'): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

t.test('each message reaches exactly one queue, and the same routing key always the same one', async (t) => {
  const { channel } = await routingChannel(t);
  const { exchange, queues } = await hashScene(channel, [1, 1, 1, 1]);
  const sample = keys(200);
  await publishKeys(channel, exchange, sample);
  await publishKeys(channel, exchange, sample);
  const got = await counts(channel, queues);
  t.equal(got.reduce((a, b) => a + b), 400, 'every message routed once');
  t.ok(got.every((n) => n > 0), `every queue gets a share (${got.join(', ')})`);
  // Each key was published twice: both copies must sit in one queue.
  const seen = new Map<string, Set<number>>();
  for (const [i, queue] of queues.entries()) {
    const messages = await collect(channel, queue, got[i]!);
    for (const m of messages) {
      const key = m.content.toString();
      seen.set(key, (seen.get(key) ?? new Set()).add(i));
    }
  }
  t.equal(seen.size, 200);
  t.ok([...seen.values()].every((where) => where.size === 1), 'no key split between queues');
});

t.test('shares follow the weights: 10,000 keys over weights 1 and 2', async (t) => {
  const { channel } = await routingChannel(t);
  const { exchange, queues } = await hashScene(channel, [1, 2]);
  await publishKeys(channel, exchange, keys(10_000, 'order'));
  const [light, heavy] = await counts(channel, queues);
  t.equal(light! + heavy!, 10_000);
  const share = light! / 10_000;
  t.ok(Math.abs(share - 1 / 3) < 0.03, `weight 1 of 3 gets about a third (${share.toFixed(3)})`);
});

t.test('removing a binding moves only the keys of that queue; adding one moves keys only to it', async (t) => {
  const { channel } = await routingChannel(t);
  const { exchange, queues } = await hashScene(channel, [1, 1, 1]);
  const sample = keys(3000);
  await publishKeys(channel, exchange, sample);
  const before = await placement(channel, queues);

  await channel.unbindQueue(queues[1]!, exchange, '1');
  await publishKeys(channel, exchange, sample);
  const after = await placement(channel, queues);
  let movedFromOthers = 0;
  let movedFromRemoved = 0;
  for (const key of sample) {
    if (before.get(key) === 1) movedFromRemoved += after.get(key) === 1 ? 0 : 1;
    else if (after.get(key) !== before.get(key)) movedFromOthers++;
  }
  t.equal(movedFromOthers, 0, 'keys of the remaining queues stay where they were');
  t.equal(movedFromRemoved, [...before.values()].filter((i) => i === 1).length, "the removed queue's keys all went elsewhere");

  await channel.bindQueue(queues[1]!, exchange, '1');
  await publishKeys(channel, exchange, sample);
  const again = await placement(channel, queues);
  t.same(again, before, 'binding it again brings back the same placement');
});

t.test('hash-header: the header value decides, messages without it all go to one queue', async (t) => {
  const { channel } = await routingChannel(t);
  const { exchange, queues } = await hashScene(channel, [1, 1, 1], { 'hash-header': 'tenant' });
  // Same tenant, many routing keys: one queue.
  await publishKeys(channel, exchange, keys(50, 'a'), () => ({ headers: { tenant: 'acme' } }));
  t.equal((await counts(channel, queues)).filter((n) => n > 0).length, 1, 'one tenant, one queue');
  await Promise.all(queues.map((q) => channel.purgeQueue(q)));
  await publishKeys(channel, exchange, keys(300, 'b'), (k) => ({ headers: { tenant: k } }));
  t.ok((await counts(channel, queues)).every((n) => n > 0), 'different tenants spread');
  await Promise.all(queues.map((q) => channel.purgeQueue(q)));
  await publishKeys(channel, exchange, keys(50, 'c'));
  t.equal((await counts(channel, queues)).filter((n) => n > 0).length, 1, 'no header: one fixed queue, as in RabbitMQ');
});

t.test('hash-property: message_id, correlation_id or timestamp decides', async (t) => {
  const { channel } = await routingChannel(t);
  for (const [property, option] of [
    ['message_id', (k: string) => ({ messageId: k })],
    ['correlation_id', (k: string) => ({ correlationId: k })],
    ['timestamp', (k: string) => ({ timestamp: 1_700_000_000 + Number(k.split('-')[1]) })],
  ] as const) {
    const { exchange, queues } = await hashScene(channel, [1, 1], { 'hash-property': property });
    await publishKeys(channel, exchange, keys(40, 'same'), () => option('id-1'));
    t.equal((await counts(channel, queues)).filter((n) => n > 0).length, 1, `${property}: equal values, one queue whatever the routing key`);
    await Promise.all(queues.map((q) => channel.purgeQueue(q)));
    await publishKeys(channel, exchange, keys(200, 'id'), option);
    t.ok((await counts(channel, queues)).every((n) => n > 0), `${property}: different values spread`);
  }
});

t.test('routes to exchanges too, and returns a mandatory message when nothing is bound', async (t) => {
  const { channel } = await routingChannel(t);
  await channel.assertExchange('chx-empty', 'x-consistent-hash', { durable: false });
  const returned = await publishSettled(channel, 'chx-empty', 'k', 'lost', { mandatory: true });
  t.same(returned.map((m) => { const f = m.fields as { replyCode?: number; replyText?: string }; return [f.replyCode, f.replyText]; }), [[312, 'NO_ROUTE']]);

  await channel.assertExchange('chx-fanout', 'fanout', { durable: false });
  const queue = await tempQueue(channel);
  await channel.bindQueue(queue, 'chx-fanout', '');
  await channel.bindExchange('chx-fanout', 'chx-empty', '5');
  t.same(await publishSettled(channel, 'chx-empty', 'k', 'via e2e', { mandatory: true }), []);
  t.equal((await channel.checkQueue(queue)).messageCount, 1);
});

t.test('refuses what RabbitMQ refuses, with its reply texts', async (t) => {
  const { connection, channel } = await routingChannel(t);
  await channel.assertExchange('chx', 'x-consistent-hash', { durable: false });
  const queue = await tempQueue(channel);
  const refused = async (op: (ch: amqp.Channel) => Promise<unknown>, text: string): Promise<void> =>
    assertChannelRefusal(t, connection, op(await openChannel(connection)), 406, text);
  await refused((ch) => ch.bindQueue(queue, 'chx', 'abc'), 'PRECONDITION_FAILED - The binding key must be an integer: <<"abc">>');
  await refused((ch) => ch.bindQueue(queue, 'chx', ''), 'PRECONDITION_FAILED - The binding key must be an integer: <<>>');
  await refused((ch) => ch.bindQueue(queue, 'chx', '1.5'), 'The binding key must be an integer: <<"1.5">>');
  await refused((ch) => ch.bindQueue(queue, 'chx', '0'), 'PRECONDITION_FAILED - The binding key must be greater than 0');
  await refused((ch) => ch.bindQueue(queue, 'chx', '-3'), 'The binding key must be greater than 0');
  await refused(
    (ch) => ch.assertExchange('chx-both', 'x-consistent-hash', { arguments: { 'hash-header': 'h', 'hash-property': 'message_id' } }),
    'PRECONDITION_FAILED - hash-header and hash-property are mutually exclusive',
  );
  await refused((ch) => ch.assertExchange('chx-prop', 'x-consistent-hash', { arguments: { 'hash-property': 'user_id' } }), 'PRECONDITION_FAILED - Unsupported property: user_id');
  // Keys Erlang reads as integers are fine, and unbinding never checks.
  for (const key of ['+3', '007', '10']) await channel.bindQueue(queue, 'chx', key);
  await channel.unbindQueue(queue, 'chx', 'abc');
  // Arguments are compared only for alternate-exchange, as in RabbitMQ.
  await channel.assertExchange('chx', 'x-consistent-hash', { durable: false, arguments: { 'hash-header': 'other' } });
});

t.test('a durable consistent-hash exchange and its bindings survive a restart, keys staying in their queues', async (t) => {
  const scene = await restartableBroker(t);
  const place = async (broker: typeof scene.broker): Promise<Map<string, number>> => {
    const connection = await connect(t, broker);
    const channel = await connection.createConfirmChannel();
    const queues = ['chx-d1', 'chx-d2', 'chx-d3'];
    await publishKeys(channel, 'chx-durable', keys(300));
    const where = await placement(channel, queues);
    await connection.close();
    return where;
  };
  const connection = await connect(t, scene.broker);
  const channel = await connection.createChannel();
  await channel.assertExchange('chx-durable', 'x-consistent-hash', { durable: true });
  for (const [i, q] of ['chx-d1', 'chx-d2', 'chx-d3'].entries()) {
    await channel.assertQueue(q, { durable: true });
    await channel.bindQueue(q, 'chx-durable', String(i + 1));
  }
  await connection.close();
  const before = await place(scene.broker);
  t.equal(new Set(before.values()).size, 3, 'keys spread over the three queues');
  const after = await place(await scene.restart());
  t.equal(after.size, 300);
  t.same(after, before, 'same placement after the restart');
  t.equal(scene.broker.exchangeStats('/', 'chx-durable')?.type, 'x-consistent-hash');
  t.equal(scene.broker.exchangeStats('/', 'chx-durable')?.bindings, 3);
});
