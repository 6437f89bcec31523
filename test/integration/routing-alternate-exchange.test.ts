import t from 'tap';
import { publishSettled, routingChannel, takeAll, tempQueue } from '../support/routing.js';

t.test('an unroutable message goes to the alternate exchange, which routes it by its own bindings', async (t) => {
  const { channel } = await routingChannel(t);
  await channel.assertExchange('ae-target', 'direct');
  await channel.assertExchange('ae-main', 'direct', { alternateExchange: 'ae-target' });
  const [main, caughtK, caughtOther] = [await tempQueue(channel), await tempQueue(channel), await tempQueue(channel)];
  await channel.bindQueue(main, 'ae-main', 'routed');
  await channel.bindQueue(caughtK, 'ae-target', 'k');
  await channel.bindQueue(caughtOther, 'ae-target', 'other');

  t.same(await publishSettled(channel, 'ae-main', 'routed', 'routed', { mandatory: true }), []);
  t.same(await publishSettled(channel, 'ae-main', 'k', 'to ae by k', { mandatory: true }), [], 'the alternate exchange satisfies mandatory');
  const returned = await publishSettled(channel, 'ae-main', 'unknown', 'nowhere at all', { mandatory: true });
  t.equal(returned.length, 1, 'routed nowhere by the alternate exchange either: returned');
  t.same(returned[0]?.fields, { replyCode: 312, replyText: 'NO_ROUTE', exchange: 'ae-main', routingKey: 'unknown' });
  t.same(await takeAll(channel, { main, caughtK, caughtOther }), { main: ['routed'], caughtK: ['to ae by k'], caughtOther: [] });
});

t.test('alternate exchanges chain, and each exchange of an exchange-to-exchange chain uses its own', async (t) => {
  const { channel } = await routingChannel(t);
  await channel.assertExchange('ae-last-resort', 'fanout');
  await channel.assertExchange('ae-second', 'direct', { alternateExchange: 'ae-last-resort' });
  await channel.assertExchange('ae-first', 'direct', { alternateExchange: 'ae-second' });
  await channel.assertExchange('ae-downstream', 'direct', { alternateExchange: 'ae-last-resort' });
  await channel.bindExchange('ae-downstream', 'ae-first', 'to-downstream');
  const [second, lastResort, downstream] = [await tempQueue(channel), await tempQueue(channel), await tempQueue(channel)];
  await channel.bindQueue(second, 'ae-second', 'second');
  await channel.bindQueue(lastResort, 'ae-last-resort', '');
  await channel.bindQueue(downstream, 'ae-downstream', 'to-downstream');

  await publishSettled(channel, 'ae-first', 'second', 'caught by the first alternate');
  await publishSettled(channel, 'ae-first', 'x', 'caught by the alternate of the alternate');
  await publishSettled(channel, 'ae-first', 'to-downstream', 'routed downstream');
  await channel.unbindQueue(downstream, 'ae-downstream', 'to-downstream');
  // ae-first routes to ae-downstream, so ae-first's alternate is not used; ae-downstream routes nowhere, so its own is.
  await publishSettled(channel, 'ae-first', 'to-downstream', 'downstream alternate');
  t.same(await takeAll(channel, { second, lastResort, downstream }), {
    second: ['caught by the first alternate'],
    lastResort: ['caught by the alternate of the alternate', 'downstream alternate'],
    downstream: ['routed downstream'],
  });
});

t.test('an exchange that routes only to an exchange that routes nowhere does not use its alternate exchange', async (t) => {
  const { channel } = await routingChannel(t);
  await channel.assertExchange('ae-catch', 'fanout');
  await channel.assertExchange('ae-dead-end', 'direct');
  await channel.assertExchange('ae-entry', 'direct', { alternateExchange: 'ae-catch' });
  await channel.bindExchange('ae-dead-end', 'ae-entry', 'k');
  const caught = await tempQueue(channel);
  await channel.bindQueue(caught, 'ae-catch', '');

  const returned = await publishSettled(channel, 'ae-entry', 'k', 'dead end', { mandatory: true });
  t.equal(returned.length, 1, 'unroutable, returned');
  t.same(await publishSettled(channel, 'ae-entry', 'not-k', 'no binding matched', { mandatory: true }), []);
  t.same(await takeAll(channel, { caught }), { caught: ['no binding matched'] });
});

t.test('an exchange whose bindings match only destinations already reached does not use its alternate exchange', async (t) => {
  const { channel } = await routingChannel(t);
  await channel.assertExchange('ae-unused', 'fanout');
  await channel.assertExchange('ae-outer', 'fanout');
  await channel.assertExchange('ae-inner', 'fanout', { alternateExchange: 'ae-unused' });
  await channel.bindExchange('ae-inner', 'ae-outer', '');
  const [q, unused] = [await tempQueue(channel), await tempQueue(channel)];
  await channel.bindQueue(q, 'ae-outer', '');
  await channel.bindQueue(q, 'ae-inner', '');
  await channel.bindQueue(unused, 'ae-unused', '');

  await publishSettled(channel, 'ae-outer', '', 'once');
  t.same(await takeAll(channel, { q, unused }), { q: ['once'], unused: [] });
});

t.test('in a binding loop, exchanges that route only to each other do not use their alternate exchanges', async (t) => {
  const { channel } = await routingChannel(t);
  await channel.assertExchange('ae-loop-catch', 'fanout');
  await channel.assertExchange('ae-loop-a', 'fanout', { alternateExchange: 'ae-loop-catch' });
  await channel.assertExchange('ae-loop-b', 'fanout', { alternateExchange: 'ae-loop-catch' });
  await channel.bindExchange('ae-loop-b', 'ae-loop-a', '');
  await channel.bindExchange('ae-loop-a', 'ae-loop-b', '');
  const caught = await tempQueue(channel);
  await channel.bindQueue(caught, 'ae-loop-catch', '');

  t.equal((await publishSettled(channel, 'ae-loop-a', '', 'loop', { mandatory: true })).length, 1);
  t.same(await takeAll(channel, { caught }), { caught: [] });
});

t.test('a missing alternate exchange is ignored until it is declared', async (t) => {
  const { channel } = await routingChannel(t);
  await channel.assertExchange('ae-orphan', 'direct', { alternateExchange: 'ae-not-yet' });
  const returned = await publishSettled(channel, 'ae-orphan', 'k', 'no alternate', { mandatory: true });
  t.equal(returned.length, 1);
  t.same(returned[0]?.fields, { replyCode: 312, replyText: 'NO_ROUTE', exchange: 'ae-orphan', routingKey: 'k' });
  t.same(await publishSettled(channel, 'ae-orphan', 'k', 'dropped quietly'), []);

  await channel.assertExchange('ae-not-yet', 'fanout');
  const q = await tempQueue(channel);
  await channel.bindQueue(q, 'ae-not-yet', '');
  t.same(await publishSettled(channel, 'ae-orphan', 'k', 'now caught', { mandatory: true }), []);
  await channel.deleteExchange('ae-not-yet');
  t.equal((await publishSettled(channel, 'ae-orphan', 'k', 'gone again', { mandatory: true })).length, 1);
  t.same(await takeAll(channel, { q }), { q: ['now caught'] });
});

t.test('an internal exchange can be the alternate exchange; an exchange can name itself', async (t) => {
  const { channel } = await routingChannel(t);
  await channel.assertExchange('ae-internal', 'fanout', { internal: true });
  await channel.assertExchange('ae-front', 'topic', { alternateExchange: 'ae-internal' });
  await channel.assertExchange('ae-narcissus', 'direct', { alternateExchange: 'ae-narcissus' });
  const q = await tempQueue(channel);
  await channel.bindQueue(q, 'ae-internal', '');

  t.same(await publishSettled(channel, 'ae-front', 'a.b', 'via internal', { mandatory: true }), []);
  t.equal((await publishSettled(channel, 'ae-narcissus', 'k', 'self', { mandatory: true })).length, 1);
  t.same(await takeAll(channel, { q }), { q: ['via internal'] });
});
