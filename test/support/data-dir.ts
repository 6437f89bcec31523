import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { type Broker, type BrokerOptions, startBroker } from '../../src/index.js';

/** A fresh data directory, removed when the test ends. */
export function tempDataDir(t: Test, prefix = 'durable-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An embedded broker on a data directory of its own that the test can stop and start again. */
export interface RestartableBroker {
  readonly broker: Broker;
  readonly dataDir: string;
  /** Closes the broker (clients see CONNECTION_FORCED) and starts a new one on the same data directory. */
  restart(): Promise<Broker>;
}

export async function restartableBroker(t: Test, options: BrokerOptions = {}): Promise<RestartableBroker> {
  const dataDir = options.dataDir ?? tempDataDir(t);
  const start = (): Promise<Broker> => startBroker({ logLevel: 'silent', ...options, dataDir });
  let broker = await start();
  t.teardown(() => broker.close());
  return {
    get broker() {
      return broker;
    },
    dataDir,
    async restart() {
      await broker.close();
      broker = await start();
      return broker;
    },
  };
}

const cli = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

/** The command-line broker (as built in dist/) running as a child process. */
export interface BrokerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly exited: Promise<number | null>;
}

/** Starts `node dist/src/cli/main.js` on `dataDir` and resolves once it logs "broker listening" with its port. */
export function startBrokerProcess(t: Test, dataDir: string, extraArgs: readonly string[] = []): Promise<BrokerProcess> {
  const child = spawn(process.execPath, [cli, '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the broker did not log "broker listening" within 15 s')), 15_000);
    let buffered = '';
    // Read stdout to the end, so the child never blocks on a full pipe.
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        if (!line.includes('"broker listening"')) continue;
        clearTimeout(timer);
        resolve({ child, port: (JSON.parse(line) as { port: number }).port, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the broker exited with ${code}: ${stderr}`));
    });
  });
}
