import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { withBroker } from '../support/broker.js';
import { ensureDebianPackage } from '../support/debian-package.js';

// Two fast clients in other languages run here; conformance/clients/run-all.sh
// runs the whole set (see conformance/clients/README.md).
const clientsDir = fileURLToPath(new URL('../../conformance/clients/', import.meta.url));

/** Runs a program (asynchronously: the broker shares this event loop) and resolves with its exit status and output. */
function run(command: string, args: string[]): Promise<{ status: number; output: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { encoding: 'utf8', timeout: 90_000 }, (err, stdout, stderr) => {
      resolve({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, output: `${stdout}${stderr}` });
    });
  });
}

const clients = [
  { language: 'Python (pika)', pkg: 'python3-pika', command: '/usr/bin/python3', script: 'pika-round-trip.py', prefix: 'pika' },
  { language: 'Ruby (Bunny)', pkg: 'ruby-bunny', command: 'ruby', script: 'bunny-round-trip.rb', prefix: 'bunny' },
] as const;

for (const client of clients) {
  const missing = ensureDebianPackage(client.pkg);
  t.test(`${client.language} declares every exchange type, binds, publishes with confirms and acks what it consumes`, { skip: missing ?? false }, async (t) => {
    const broker = await withBroker(t);
    const { status, output } = await run(client.command, [`${clientsDir}${client.script}`, broker.url]);
    t.equal(status, 0, 'the client script exits with 0', { output });
    for (const kind of ['direct', 'fanout', 'topic', 'headers']) t.match(output, `declared ${kind} exchange ${client.prefix}-${kind}`);
    t.match(output, 'published and confirmed 4 messages');
    t.match(output, `received "hello via ${client.prefix}-direct" exchange=${client.prefix}-direct routing_key=greeting`);
    t.match(output, `received "hello via ${client.prefix}-fanout" exchange=${client.prefix}-fanout routing_key=anything`);
    t.match(output, `received "hello via ${client.prefix}-topic" exchange=${client.prefix}-topic routing_key=greetings.en`);
    t.match(output, `received "hello via ${client.prefix}-headers" exchange=${client.prefix}-headers routing_key=`);
    t.match(output, 'acked 4 messages, queue empty');
    t.match(output, 'closed cleanly');
  });
}

const runAll = `${clientsDir}run-all.sh`;

t.test('run-all.sh reports each client it runs and the totals last', async (t) => {
  const broker = await withBroker(t);
  const { status, output } = await run('bash', [runAll, broker.url, 'node-amqplib']);
  t.equal(status, 0, 'exits with 0 when every client passed', { output });
  t.match(output, /^ok node-amqplib$/m);
  t.equal(output.trimEnd().split('\n').at(-1), '1 passed, 0 failed');
});

t.test('run-all.sh reports a client that fails, with its reason, and exits non-zero', async (t) => {
  const port = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
  const { status, output } = await run('bash', [runAll, `amqp://guest:guest@127.0.0.1:${port}`, 'node-amqplib']);
  t.not(status, 0, 'exits non-zero', { output });
  t.match(output, /^not ok node-amqplib: .*ECONNREFUSED/m);
  t.equal(output.trimEnd().split('\n').at(-1), '0 passed, 1 failed');
});
