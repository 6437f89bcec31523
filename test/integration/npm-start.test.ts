import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { eventually, within } from '../support/broker.js';
import { processAlive, shortDataDir } from '../support/cli-process.js';
import { freePorts } from '../support/tcp-proxy.js';

// `npm start` as a newcomer runs it: with nothing changed it compiles
// nothing (npm test has just built the broker, and its build record), and a
// SIGTERM to npm reaches the broker, which stops and frees its port and data
// directory.

const repo = fileURLToPath(new URL('../../', import.meta.url));
const buildRecord = fileURLToPath(new URL('../../dist/.src.tsbuildinfo', import.meta.url));

/** Runs `npm start` on its own port and data directory; resolves once the broker listens, with the broker's pid. */
async function npmStart(t: Test, port: number, dataDir: string) {
  const npm = spawn('npm', ['start', '--', '--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));
  let brokerPid: number | undefined;
  t.teardown(async () => {
    if (npm.exitCode === null && npm.signalCode === null) npm.kill('SIGKILL');
    if (brokerPid !== undefined && processAlive(brokerPid)) process.kill(brokerPid, 'SIGKILL');
  });
  await eventually(() => /"broker listening"/.test(output), 120_000, `npm start: the broker listens (${output.slice(-300)})`);
  brokerPid = (JSON.parse(output.split('\n').find((line) => line.includes('"broker listening"'))!) as { pid: number }).pid;
  return { npm, brokerPid, exited };
}

t.test('SIGTERM to npm start stops the broker it started; a second start with nothing changed compiles nothing', async (t) => {
  const [port] = await freePorts(1);
  const dataDir = shortDataDir(t);
  const first = await npmStart(t, port!, dataDir);
  t.not(first.brokerPid, first.npm.pid, 'the broker is its own process');
  const built = statSync(buildRecord).mtimeMs;
  first.npm.kill('SIGTERM');
  await within(first.exited, 30_000, 'npm exits');
  await eventually(() => !processAlive(first.brokerPid), 30_000, 'the broker exits too');
  t.pass('the broker stopped with npm');

  // The port and the data directory's lock are free again: the same start works.
  const second = await npmStart(t, port!, dataDir);
  t.equal(statSync(buildRecord).mtimeMs, built, 'nothing was compiled the second time');
  second.npm.kill('SIGTERM');
  await within(second.exited, 30_000, 'npm exits');
  await eventually(() => !processAlive(second.brokerPid), 30_000, 'the broker exits too');
});
