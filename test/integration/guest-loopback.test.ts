import { fileURLToPath } from 'node:url';
import t from 'tap';
import { withBroker } from '../support/broker.js';
import { createNetns } from '../support/netns.js';

/** Connects with amqplib to the URL it is given and prints "connected", or the error. */
const CLIENT = `
  const amqp = require(${JSON.stringify(fileURLToPath(new URL('../../node_modules/amqplib/channel_api.js', import.meta.url)))});
  amqp.connect(process.argv[1]).then(
    (c) => { console.log('connected from the other host'); return c.close(); },
    (err) => { console.log(err.message); process.exitCode = 1; },
  );
`;

t.test('guest may log in only from this machine, judged by the peer address; another user may from anywhere', async (t) => {
  const netns = createNetns(t);
  if ('cannot' in netns) return t.plan(0, netns.cannot);
  const broker = await withBroker(t, { host: netns.hostAddress });
  await broker.admin.addUser('remote', 'pw');
  await broker.admin.setPermissions('remote', '/', { configure: '.*', write: '.*', read: '.*' });
  const from = (user: string, password: string) => netns.run(process.execPath, ['-e', CLIENT, `amqp://${user}:${password}@${broker.config.host}:${broker.port}`], 20_000);

  const guest = await from('guest', 'guest');
  t.equal(guest.code, 1, 'guest from the other host is refused');
  t.match(guest.stdout, /ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN/);
  const remote = await from('remote', 'pw');
  t.equal(remote.stdout.trim(), 'connected from the other host', `a user of its own connects (from ${netns.peerAddress})`);
});
