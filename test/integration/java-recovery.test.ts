import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { eventually, within } from '../support/broker.js';
import { shortDataDir, startCli } from '../support/cli-process.js';
import { ensureDebianPackage } from '../support/debian-package.js';
import { freePorts } from '../support/tcp-proxy.js';

// Compiling the client and waiting out its recovery interval take a while on a busy machine.
t.setTimeout(180_000);

// The RabbitMQ Java client (Debian's librabbitmq-client-java) with automatic
// recovery, across the broker stopped with SIGTERM and started again on the
// same data directory and port: the connection, its channel, queues of each
// kind, bindings and consumers all come back, as they do with RabbitMQ.

const program = fileURLToPath(new URL('../support/java/Recovery.java', import.meta.url));
const classpath = ['amqp-client', 'slf4j-api', 'slf4j-nop'].map((jar) => `/usr/share/java/${jar}.jar`).join(':');

t.test('the Java client recovers its connection and topology after the broker restarts', async (t) => {
  for (const pkg of ['default-jdk-headless', 'librabbitmq-client-java', 'libslf4j-java']) {
    const missing = ensureDebianPackage(pkg);
    if (missing !== undefined) throw new Error(missing);
  }
  const [port] = await freePorts(1);
  const dataDir = shortDataDir(t);
  const args = ['--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir];
  const first = await startCli(t, args);
  const client = spawn('java', ['-cp', classpath, program, `amqp://guest:guest@127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void client.kill('SIGKILL'));
  let output = '';
  client.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  client.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => client.once('exit', resolve));
  await eventually(() => output.includes('ready') || client.exitCode !== null, 60_000, 'the Java client is ready');
  t.match(output, /^ready$/m, 'the Java client set its topology up');

  const stopped = new Promise((resolve) => first.child.once('exit', resolve));
  first.child.kill('SIGTERM');
  await within(stopped, 30_000, 'the broker stops on SIGTERM');
  await startCli(t, args);
  const code = await within(exited, 90_000, 'the Java client finishes');
  if (code !== 0) t.comment(output);
  t.equal(code, 0, 'the client recovered, and each of its queues got a message published after the restart');
  t.match(output, /recovered[\s\S]*OK/);
});
