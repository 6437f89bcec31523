import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { withBroker } from '../support/broker.js';
import { ensureDebianPackage } from '../support/debian-package.js';

const clientsDir = fileURLToPath(new URL('../../conformance/clients/', import.meta.url));

/** Runs an example client script against the broker (asynchronously: the broker shares this event loop). */
function runExample(command: string, script: string, url: string): Promise<{ status: number; output: string }> {
  return new Promise((resolve) => {
    execFile(command, [`${clientsDir}${script}`, url], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, output: `${stdout}${stderr}` });
    });
  });
}

const clients = [
  { language: 'Python (pika)', pkg: 'python3-pika', command: '/usr/bin/python3', script: 'pika-round-trip.py', vhostSuffix: '/%2F', expect: "received b'hello from pika' routing_key=greetings.en" },
  { language: 'Ruby (Bunny)', pkg: 'ruby-bunny', command: 'ruby', script: 'bunny-round-trip.rb', vhostSuffix: '', expect: 'received "hello from bunny" routing_key=greetings.nl' },
] as const;

for (const client of clients) {
  const missing = ensureDebianPackage(client.pkg);
  t.test(`${client.language} declares exchanges and round-trips a confirmed message`, { skip: missing ?? false }, async (t) => {
    const broker = await withBroker(t);
    const { status, output } = await runExample(client.command, client.script, `${broker.url}${client.vhostSuffix}`);
    t.equal(status, 0, 'the client script exits with 0', { output });
    t.match(output, 'published and confirmed');
    t.match(output, client.expect);
    t.match(output, 'closed cleanly');
  });
}
