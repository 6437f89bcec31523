import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as amqp from 'amqplib';
import t from 'tap';
import { runCtl, shortDataDir, startCli } from '../support/cli-process.js';

t.test('the ctl tool adds a vhost, a user and permissions to a running broker, and a client uses them', async (t) => {
  const dataDir = shortDataDir(t);
  const broker = await startCli(t, ['--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir]);
  t.equal(statSync(join(dataDir, 'control')).mode & 0o777, 0o700, 'the control socket is in a directory for the broker\'s own OS user only');
  t.equal(statSync(join(dataDir, 'control', 'ctl.sock')).mode & 0o777, 0o600, 'and is for that user only itself');
  t.match(await runCtl(dataDir, 'add_vhost', 'orders'), { code: 0, stdout: 'Added vhost "orders"\n' });
  t.match(await runCtl(dataDir, 'add_user', 'app', 's3cret'), { code: 0, stdout: 'Added user "app"\n' });
  t.match(await runCtl(dataDir, 'set_user_tags', 'app', 'monitoring', 'management'), { code: 0 });
  t.match(await runCtl(dataDir, 'set_permissions', '-p', 'orders', 'app', '^app\\.', '^app\\.', '^app\\.'), { code: 0 });
  t.equal((await runCtl(dataDir, 'list_users')).stdout, 'user\ttags\nguest\t[administrator]\napp\t[monitoring, management]\n', 'list_users');
  t.equal((await runCtl(dataDir, 'list_vhosts')).stdout, 'name\n/\norders\n', 'list_vhosts');
  t.match(await runCtl(dataDir, 'set_vhost_limits', '-p', 'orders', '{"max-queues": 5}'), { code: 0 });
  t.equal((await runCtl(dataDir, 'list_vhost_limits')).stdout, 'vhost\tlimits\norders\t{"max-queues":5}\n', 'list_vhost_limits');
  t.match(await runCtl(dataDir, 'set_user_limits', 'app', 'not json'), { code: 64, stderr: /not JSON/ }, 'limits must be JSON');
  t.equal((await runCtl(dataDir, 'list_permissions', '-p', 'orders')).stdout, 'user\tconfigure\twrite\tread\napp\t^app\\.\t^app\\.\t^app\\.\n', 'list_permissions');

  const app = await amqp.connect(`amqp://app:s3cret@127.0.0.1:${broker.port}/orders`);
  t.teardown(() => app.close().catch(() => {}));
  const ch = await app.createChannel();
  await ch.assertExchange('app.x', 'direct');
  await ch.assertQueue('app.inbox');
  await ch.bindQueue('app.inbox', 'app.x', 'k');
  ch.publish('app.x', 'k', Buffer.from('hello'));
  const got = await new Promise<amqp.GetMessage | false>((resolve) => setTimeout(() => void ch.get('app.inbox', { noAck: true }).then(resolve), 100));
  t.equal(got && got.content.toString(), 'hello', 'a message round-trips in the new vhost as the new user');

  t.match(await runCtl(dataDir, 'add_user', 'app', 'again'), { code: 70, stderr: "Error: user 'app' already exists\n" }, 'a refused command says why');
  t.match(await runCtl(dataDir, 'set_permissions', 'app'), { code: 64, stderr: /usage: set_permissions \[-p <vhost>\] <username> <conf> <write> <read>/ }, 'wrong arguments print the usage');
  t.match(await runCtl(dataDir, 'no_such_command'), { code: 64, stderr: /unknown command 'no_such_command'/ });
});

t.test('import_definitions takes the users, vhosts and permissions of a RabbitMQ definitions file, password hashes included', async (t) => {
  const dataDir = shortDataDir(t);
  const broker = await startCli(t, ['--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir]);
  // Written by `rabbitmqctl export_definitions` on RabbitMQ 3.10.8 (bob's password is "secret"), then given a second
  // vhost with a permission in it and a user limit.
  const file = fileURLToPath(new URL('../fixtures/rabbitmq-3.10.8-definitions.json', import.meta.url));
  t.match(await runCtl(dataDir, 'import_definitions', file), { code: 0, stdout: /Imported 2 vhosts, 2 users, 3 permissions and 1 topic permissions/ });
  t.equal((await runCtl(dataDir, 'list_user_permissions', 'bob')).stdout, 'vhost\tconfigure\twrite\tread\n/\t^bob-.*\t^bob-.*\t^bob-.*\nimported\t.*\t.*\t.*\n');
  t.equal((await runCtl(dataDir, 'list_user_limits')).stdout, 'user\tlimits\nbob\t{"max-connections":3}\n');
  const bob = await amqp.connect(`amqp://bob:secret@127.0.0.1:${broker.port}/imported`);
  t.teardown(() => bob.close().catch(() => {}));
  t.pass('bob logs in with the password RabbitMQ hashed, into the imported vhost');
  t.match(await runCtl(dataDir, 'import_definitions', join(dataDir, 'missing.json')), { code: 64, stderr: /cannot read/ });
});

t.test('a data directory too deep for a Unix socket: the broker runs without the control socket and leaves nothing open when closed', async (t) => {
  const dataDir = join(shortDataDir(t), 'd'.repeat(110));
  const { startBroker } = await import('../../src/index.js');
  const before = process.getActiveResourcesInfo().filter((r) => r === 'PipeServerWrap').length;
  const broker = await startBroker({ dataDir, logLevel: 'silent' });
  t.notOk(existsSync(join(dataDir, 'control', 'ctl.sock')), 'no control socket');
  const c = await amqp.connect(broker.url);
  await c.close();
  await broker.close();
  t.equal(process.getActiveResourcesInfo().filter((r) => r === 'PipeServerWrap').length, before, 'no listening socket left behind to keep the process alive');
});

t.test('the ctl tool says so when no broker runs on the data directory', async (t) => {
  const result = await runCtl(shortDataDir(t), 'list_users');
  t.equal(result.code, 69);
  t.match(result.stderr, /cannot reach a broker on .*is it running with that --data-dir\?/);
});
