import t from 'tap';
import { publishSettled, routingChannel, takeAll, tempQueue } from '../support/routing.js';

t.test('the default exchange routes by queue name; a missing queue drops the message, or returns it when mandatory', async (t) => {
  const { channel } = await routingChannel(t);
  await channel.assertQueue('routing-default-a', { exclusive: true });
  await channel.assertQueue('routing-default-b', { exclusive: true });

  t.same(await publishSettled(channel, '', 'routing-default-a', 'to a'), []);
  t.same(await publishSettled(channel, '', 'routing-default-missing', 'dropped'), [], 'no return without mandatory');
  const returned = await publishSettled(channel, '', 'routing-default-missing', 'returned', { mandatory: true });
  t.equal(returned.length, 1);
  t.same(returned[0]?.fields, { replyCode: 312, replyText: 'NO_ROUTE', exchange: '', routingKey: 'routing-default-missing' });
  t.equal(returned[0]?.content.toString(), 'returned');

  // The channel survived the unroutable publishes.
  t.same(await publishSettled(channel, '', 'routing-default-b', 'to b'), []);
  t.same(await takeAll(channel, { a: 'routing-default-a', b: 'routing-default-b' }), { a: ['to a'], b: ['to b'] });
});

t.test('the amq.* exchanges are predeclared with their types and route', async (t) => {
  const { channel } = await routingChannel(t);
  const cases = [
    { exchange: 'amq.direct', type: 'direct', bind: ['k', {}], publish: ['k', {}] },
    { exchange: 'amq.fanout', type: 'fanout', bind: ['', {}], publish: ['anything', {}] },
    { exchange: 'amq.topic', type: 'topic', bind: ['a.*', {}], publish: ['a.b', {}] },
    { exchange: 'amq.headers', type: 'headers', bind: ['', { h: 'v' }], publish: ['', { headers: { h: 'v' } }] },
    { exchange: 'amq.match', type: 'headers', bind: ['', { h: 'v' }], publish: ['', { headers: { h: 'v' } }] },
  ] as const;
  for (const { exchange, type, bind, publish } of cases) {
    t.same(await channel.checkExchange(exchange), {}, `${exchange} exists`);
    // Redeclaring with the same type and flags is how applications assert them.
    await channel.assertExchange(exchange, type, { durable: true });
    const q = await tempQueue(channel);
    await channel.bindQueue(q, exchange, bind[0], bind[1]);
    t.same(await publishSettled(channel, exchange, publish[0], exchange, { mandatory: true, ...publish[1] }), [], `${exchange} routed`);
    t.same(await takeAll(channel, { q }), { q: [exchange] });
  }
});

t.test('direct: exact key match; a queue bound under several keys, or twice, gets one copy per message', async (t) => {
  const { channel } = await routingChannel(t);
  await channel.assertExchange('routing-direct', 'direct', { autoDelete: true });
  const [q1, q2, q3] = [await tempQueue(channel), await tempQueue(channel), await tempQueue(channel)];
  await channel.bindQueue(q1, 'routing-direct', 'red');
  await channel.bindQueue(q1, 'routing-direct', 'green');
  await channel.bindQueue(q2, 'routing-direct', 'red');
  await channel.bindQueue(q2, 'routing-direct', 'red', { other: 'arguments' });
  await channel.bindQueue(q3, 'routing-direct', 'Red');

  for (const key of ['red', 'green', 'Red', 'red.x', 'blue', '']) await publishSettled(channel, 'routing-direct', key, key);
  t.same(await takeAll(channel, { q1, q2, q3 }), { q1: ['red', 'green'], q2: ['red'], q3: ['Red'] });
});

t.test('fanout: every bound queue gets one copy whatever the routing key', async (t) => {
  const { channel } = await routingChannel(t);
  await channel.assertExchange('routing-fanout', 'fanout', { autoDelete: true });
  const [q1, q2, unbound] = [await tempQueue(channel), await tempQueue(channel), await tempQueue(channel)];
  await channel.bindQueue(q1, 'routing-fanout', '');
  await channel.bindQueue(q1, 'routing-fanout', 'other key');
  await channel.bindQueue(q2, 'routing-fanout', 'k');

  await publishSettled(channel, 'routing-fanout', '', 'one');
  await publishSettled(channel, 'routing-fanout', 'k', 'two');
  t.same(await takeAll(channel, { q1, q2, unbound }), { q1: ['one', 'two'], q2: ['one', 'two'], unbound: [] });
});

t.test('topic: * is one word, # is zero or more; several matching bindings still give one copy', async (t) => {
  const { channel } = await routingChannel(t);
  await channel.assertExchange('routing-topic', 'topic', { autoDelete: true });
  const patterns: Record<string, string[]> = {
    star: ['a.*'],
    hash: ['a.#'],
    all: ['#'],
    middle: ['a.#.z'],
    twoStars: ['*.*'],
    exact: ['a.b'],
    empty: [''],
    emptyWords: ['a..b', '*.'],
    overlapping: ['a.*', 'a.#', '#.b', '*.b', 'a.b'],
  };
  const queues: Record<string, string> = {};
  for (const [label, keys] of Object.entries(patterns)) {
    const q = await tempQueue(channel);
    queues[label] = q;
    for (const key of keys) await channel.bindQueue(q, 'routing-topic', key);
  }
  const keys = ['a', 'a.b', 'a.b.c', 'a.z', 'a.b.z', 'b', 'x.b', '', 'a..b', 'x.'];
  for (const key of keys) await publishSettled(channel, 'routing-topic', key, key === '' ? '(empty)' : key);

  t.same(await takeAll(channel, queues), {
    star: ['a.b', 'a.z'],
    hash: ['a', 'a.b', 'a.b.c', 'a.z', 'a.b.z', 'a..b'],
    all: ['a', 'a.b', 'a.b.c', 'a.z', 'a.b.z', 'b', 'x.b', '(empty)', 'a..b', 'x.'],
    middle: ['a.z', 'a.b.z'],
    twoStars: ['a.b', 'a.z', 'x.b', 'x.'],
    exact: ['a.b'],
    empty: ['(empty)'],
    emptyWords: ['a..b', 'x.'],
    overlapping: ['a', 'a.b', 'a.b.c', 'a.z', 'a.b.z', 'b', 'x.b', 'a..b'],
  });
});

t.test('unbinding a queue stops routing to it; the other bindings keep routing', async (t) => {
  const { channel } = await routingChannel(t);
  await channel.assertExchange('routing-unbind', 'topic', { autoDelete: true });
  const q = await tempQueue(channel);
  await channel.bindQueue(q, 'routing-unbind', 'a.*');
  await channel.bindQueue(q, 'routing-unbind', '#.b');
  await publishSettled(channel, 'routing-unbind', 'a.b', 'both bindings');
  await channel.unbindQueue(q, 'routing-unbind', 'a.*');
  await publishSettled(channel, 'routing-unbind', 'a.c', 'only the removed binding');
  await publishSettled(channel, 'routing-unbind', 'a.b', 'still #.b');
  t.same(await takeAll(channel, { q }), { q: ['both bindings', 'still #.b'] });
});
