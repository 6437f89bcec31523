import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { startBroker } from '../../src/index.js';
import { roundTrip, connect, within } from '../support/broker.js';
import { tempDataDir } from '../support/data-dir.js';

// One broker per data directory: the LOCK file.

const cli = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

/** Runs the command-line broker on `dataDir` until it exits; resolves with its exit code and what it wrote to stderr. */
function runCli(dataDir: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [cli, '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return within(new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr }))), 10_000, 'the refused broker exits');
}

/** The PID of a process that has exited. */
function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  return within(new Promise((resolve) => child.once('exit', () => resolve(child.pid!))), 10_000, 'a short-lived process exits');
}

t.test('a second broker on a data directory in use is refused with a clear message', async (t) => {
  const dataDir = tempDataDir(t);
  const first = await startBroker({ dataDir, logLevel: 'silent' });
  t.teardown(() => first.close());
  t.equal(readFileSync(join(dataDir, 'LOCK'), 'utf8').trim(), String(process.pid), 'the LOCK file names the owner');

  await t.rejects(startBroker({ dataDir, logLevel: 'silent' }), {
    message: `data directory ${dataDir} is in use by another broker (process ${process.pid}); stop it or choose another --data-dir (if no broker runs there, delete ${join(dataDir, 'LOCK')})`,
  });
  const { code, stderr } = await runCli(dataDir);
  t.equal(code, 1, 'the command-line broker exits with an error');
  t.match(stderr, `broker failed to start: Error: data directory ${dataDir} is in use by another broker (process ${process.pid})`);
  t.equal(await roundTrip(await connect(t, first)), 'ping', 'the first broker is undisturbed');
});

t.test('after the first broker closes, the next one starts and sees its durable state', async (t) => {
  const dataDir = tempDataDir(t);
  const first = await startBroker({ dataDir, logLevel: 'silent' });
  const ch = await (await connect(t, first)).createChannel();
  await ch.assertQueue('kept', { durable: true });
  await first.close();
  t.notOk(existsSync(join(dataDir, 'LOCK')), 'closing releases the lock');
  const second = await startBroker({ dataDir, logLevel: 'silent' });
  t.teardown(() => second.close());
  const again = await (await connect(t, second)).createChannel();
  t.equal((await again.checkQueue('kept')).queue, 'kept');
});

t.test('a LOCK left by a process that is gone is taken over', async (t) => {
  for (const [what, content] of [
    ['a dead PID', `${await deadPid()}\n`],
    ['an empty file (a crash while locking)', ''],
  ] as const) {
    const dataDir = tempDataDir(t);
    writeFileSync(join(dataDir, 'LOCK'), content);
    const broker = await startBroker({ dataDir, logLevel: 'silent' });
    t.equal(readFileSync(join(dataDir, 'LOCK'), 'utf8').trim(), String(process.pid), `after ${what}`);
    t.equal(await roundTrip(await connect(t, broker)), 'ping');
    await broker.close();
  }
});

const lockModule = new URL('../../dist/src/store/data-dir-lock.js', import.meta.url).href;

/** A process that tries to lock `dataDir`, says "locked" or "refused", and holds what it got for a moment. */
function contender(dataDir: string): Promise<string> {
  const script = `
    const { DataDirLock } = await import(${JSON.stringify(lockModule)});
    try {
      const lock = DataDirLock.acquire(${JSON.stringify(dataDir)});
      console.log('locked');
      setTimeout(() => lock.release(), 1500);
    } catch (err) {
      console.log(/in use by another broker/.test(err.message) ? 'refused' : 'error: ' + err.message);
    }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  return within(new Promise((resolve) => child.once('exit', () => resolve(out.trim()))), 10_000, 'a contender exits');
}

t.test('brokers starting together on a stale LOCK: exactly one gets it, the others are refused', async (t) => {
  // The window between reading a stale lock and replacing it is microseconds wide: few runs hit it, every run checks the outcome.
  for (let round = 0; round < 2; round++) {
    const dataDir = tempDataDir(t);
    writeFileSync(join(dataDir, 'LOCK'), `${await deadPid()}\n`);
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => contender(dataDir)));
    t.same(outcomes.filter((o) => o === 'locked').length, 1, `round ${round}: one lock holder (${outcomes.join(', ')})`);
    t.same(outcomes.filter((o) => o !== 'locked' && o !== 'refused'), [], 'no other outcome');
  }
});

