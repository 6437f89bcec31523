import t from 'tap';
import { brokerChannel, collect } from '../support/broker.js';

t.test('a message published to a topic exchange reaches a bound consumer', async (t) => {
  const { channel } = await brokerChannel(t);
  await channel.assertExchange('logs', 'topic');
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(queue, 'logs', 'app.*');
  const received = collect(channel, queue, 1);
  channel.publish('logs', 'app.start', Buffer.from('hello'), { contentType: 'text/plain', headers: { n: 1 } });
  const [m] = await received;
  t.equal(m!.content.toString(), 'hello');
  t.equal(m!.fields.routingKey, 'app.start');
  t.equal(m!.properties.contentType, 'text/plain');
  t.same(m!.properties.headers, { n: 1 });
});
