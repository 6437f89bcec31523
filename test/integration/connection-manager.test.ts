import type { Channel, ConsumeMessage } from 'amqplib';
import * as acm from 'amqp-connection-manager';
import t from 'tap';
import { startBroker } from '../../src/index.js';
import { delay } from '../support/broker.js';

/** Resolves when `predicate` holds, polling; rejects after `ms`. */
async function until(predicate: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}

t.test('amqp-connection-manager fails over to the second broker of its list and re-runs its setup', async (t) => {
  const first = await startBroker({ logLevel: 'silent' });
  const second = await startBroker({ logLevel: 'silent' });
  t.teardown(() => first.close());
  t.teardown(() => second.close());

  const manager = acm.connect([first.url, second.url], { reconnectTimeInSeconds: 0.1, heartbeatIntervalInSeconds: 5 });
  t.teardown(() => manager.close());
  const received: string[] = [];
  let setups = 0;
  const channel = manager.createChannel({
    json: false,
    setup: async (ch: Channel) => {
      setups++;
      await ch.assertQueue('orders', { durable: false });
      await ch.consume('orders', (m: ConsumeMessage | null) => {
        if (m === null) return;
        received.push(m.content.toString());
        ch.ack(m);
      });
    },
  });
  t.teardown(() => channel.close());

  await channel.waitForConnect();
  await channel.sendToQueue('orders', Buffer.from('one'));
  await until(() => received.length === 1, 5000, 'the first message');
  t.equal(setups, 1);

  await first.close();
  await until(() => setups === 2, 10000, 'the setup to run again on the second broker');
  await channel.sendToQueue('orders', Buffer.from('two'));
  await until(() => received.length === 2, 5000, 'the message sent after failover');
  t.same(received, ['one', 'two'], 'messages before and after failover both arrive');
});
