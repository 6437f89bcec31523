import t from 'tap';
import { channelError } from '../support/broker.js';
import { txSelect } from '../support/channel-methods.js';
import { drain } from '../support/messages.js';
import { publishSettled, routingChannel, takeAll, tempQueue } from '../support/routing.js';

t.test('CC and BCC keys route the message too, one copy per queue; BCC is removed from what is delivered, CC kept', async (t) => {
  const { channel } = await routingChannel(t);
  await channel.assertExchange('cc-direct', 'direct');
  const [a, b, c, ab, none] = [await tempQueue(channel), await tempQueue(channel), await tempQueue(channel), await tempQueue(channel), await tempQueue(channel)];
  await channel.bindQueue(a, 'cc-direct', 'a');
  await channel.bindQueue(b, 'cc-direct', 'b');
  await channel.bindQueue(c, 'cc-direct', 'c');
  await channel.bindQueue(ab, 'cc-direct', 'a');
  await channel.bindQueue(ab, 'cc-direct', 'b');
  await channel.bindQueue(none, 'cc-direct', 'z');

  const returned = await publishSettled(channel, 'cc-direct', 'a', 'hello', { CC: ['b', 'a'], BCC: ['c', 'b', 'missing'], headers: { keep: 1 }, mandatory: true });
  t.same(returned, []);
  for (const [label, q] of Object.entries({ a, b, c, ab })) {
    const got = await drain(channel, q);
    t.equal(got.length, 1, `${label}: one copy`);
    t.equal(got[0]?.content.toString(), 'hello');
    t.equal(got[0]?.fields.routingKey, 'a', `${label}: delivered with the publish routing key`);
    t.same(got[0]?.properties.headers, { keep: 1, CC: ['b', 'a'] }, `${label}: CC kept, BCC gone`);
  }
  t.same(await takeAll(channel, { none }), { none: [] });
});

t.test('CC alone, BCC alone, and an unroutable key with a routable CC', async (t) => {
  const { channel } = await routingChannel(t);
  await channel.assertExchange('cc-solo', 'direct');
  const [x, y] = [await tempQueue(channel), await tempQueue(channel)];
  await channel.bindQueue(x, 'cc-solo', 'x');
  await channel.bindQueue(y, 'cc-solo', 'y');

  t.same(await publishSettled(channel, 'cc-solo', 'nothing-bound', 'cc', { CC: 'x', mandatory: true }), [], 'routed by CC alone');
  t.same(await publishSettled(channel, 'cc-solo', 'nothing-bound', 'bcc', { BCC: ['y'], mandatory: true }), [], 'routed by BCC alone');
  const gotX = await drain(channel, x);
  const gotY = await drain(channel, y);
  t.same(gotX.map((m) => [m.content.toString(), m.properties.headers]), [['cc', { CC: ['x'] }]]);
  t.same(gotY.map((m) => [m.content.toString(), m.properties.headers]), [['bcc', {}]]);
});

t.test('CC and BCC work with the default, topic, fanout and headers exchanges', async (t) => {
  const { channel } = await routingChannel(t);
  const [q1, q2, topicQ, fanoutQ, headersQ] = [await tempQueue(channel), await tempQueue(channel), await tempQueue(channel), await tempQueue(channel), await tempQueue(channel)];
  await publishSettled(channel, '', q1, 'default', { CC: [q2, 'no-such-queue'], BCC: [q1] });

  await channel.assertExchange('cc-topic', 'topic');
  await channel.bindQueue(topicQ, 'cc-topic', 'a.*');
  await channel.bindQueue(topicQ, 'cc-topic', '#.z');
  await publishSettled(channel, 'cc-topic', 'nope', 'topic', { CC: ['a.b', 'y.z', 'a.c'] });

  await channel.assertExchange('cc-fanout', 'fanout');
  await channel.bindQueue(fanoutQ, 'cc-fanout', '');
  await publishSettled(channel, 'cc-fanout', 'k', 'fanout', { CC: ['k2', 'k3'] });

  await channel.assertExchange('cc-headers', 'headers');
  await channel.bindQueue(headersQ, 'cc-headers', '', { 'x-match': 'any', h: 1 });
  await publishSettled(channel, 'cc-headers', 'k', 'headers', { CC: ['k2'], headers: { h: 1 } });

  t.same(await takeAll(channel, { q1, q2, topicQ, fanoutQ, headersQ }), {
    q1: ['default'],
    q2: ['default'],
    topicQ: ['topic'],
    fanoutQ: ['fanout'],
    headersQ: ['headers'],
  });
});

t.test('CC keys follow exchange-to-exchange bindings and reach alternate exchanges', async (t) => {
  const { channel } = await routingChannel(t);
  await channel.assertExchange('cc-ae', 'direct');
  await channel.assertExchange('cc-front', 'direct', { alternateExchange: 'cc-ae' });
  await channel.assertExchange('cc-back', 'direct');
  await channel.bindExchange('cc-back', 'cc-front', 'to-back');
  const [back, ae] = [await tempQueue(channel), await tempQueue(channel)];
  await channel.bindQueue(back, 'cc-back', 'to-back');
  await channel.bindQueue(ae, 'cc-ae', 'to-ae');

  await publishSettled(channel, 'cc-front', 'nothing', 'via back', { CC: ['to-back'] });
  await publishSettled(channel, 'cc-front', 'nothing', 'via ae', { BCC: ['to-ae'] });
  t.same(await takeAll(channel, { back, ae }), { back: ['via back'], ae: ['via ae'] });
});

t.test('only string elements are keys; an empty BCC is still removed', async (t) => {
  const { channel } = await routingChannel(t);
  await channel.assertExchange('cc-types', 'direct');
  const [str, num, bin] = [await tempQueue(channel), await tempQueue(channel), await tempQueue(channel)];
  await channel.bindQueue(str, 'cc-types', 's');
  await channel.bindQueue(num, 'cc-types', '7');
  await channel.bindQueue(bin, 'cc-types', 'b');

  await publishSettled(channel, 'cc-types', 'none', 'mixed', { headers: { CC: ['s', 7, Buffer.from('b'), true] } });
  await publishSettled(channel, 'cc-types', 's', 'empty bcc', { headers: { BCC: [], other: 'x' } });
  t.same(await takeAll(channel, { num, bin }), { num: [], bin: [] });
  const got = await drain(channel, str);
  t.same(got.map((m) => m.content.toString()), ['mixed', 'empty bcc']);
  t.same(got[1]?.properties.headers, { other: 'x' });
});

t.test('a CC or BCC header that is not an array makes the publish a 406 channel error', async (t) => {
  const { connection, channel } = await routingChannel(t);
  const q = await tempQueue(channel);
  const cases: [Record<string, unknown>, string][] = [
    [{ CC: 'just-a-string' }, 'PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"CC",longstr}'],
    [{ BCC: 5 }, 'invalid message: {unacceptable_type_in_header,"BCC",byte}'],
    [{ CC: null }, 'invalid message: {unacceptable_type_in_header,"CC",void}'],
    [{ CC: { a: 'b' } }, 'invalid message: {unacceptable_type_in_header,"CC",table}'],
    [{ CC: [q], BCC: Buffer.from('x') }, 'invalid message: {unacceptable_type_in_header,"BCC",binary}'],
  ];
  for (const [headers, text] of cases) {
    const ch = await connection.createChannel();
    const refused = channelError(ch);
    ch.publish('', q, Buffer.from('bad'), { headers });
    const err = await refused;
    t.equal(err.code, 406);
    t.match(err.message, text);
  }
  // In a transaction the message is refused when it is published, not at commit.
  const tx = await connection.createChannel();
  await txSelect(tx);
  const refused = channelError(tx);
  tx.publish('', q, Buffer.from('bad in tx'), { headers: { CC: 'x' } });
  t.equal((await refused).code, 406);
  t.same(await takeAll(channel, { q }), { q: [] }, 'nothing was delivered');
});

t.test('a returned message has its BCC removed and its CC kept', async (t) => {
  const { channel } = await routingChannel(t);
  const returned = await publishSettled(channel, 'amq.direct', 'unbound', 'back', { CC: ['nope'], BCC: ['secret'], headers: { h: 'v' }, mandatory: true });
  t.equal(returned.length, 1);
  t.same(returned[0]?.properties.headers, { h: 'v', CC: ['nope'] });
  t.equal(returned[0]?.content.toString(), 'back');
});
