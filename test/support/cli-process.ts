import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';

// `npm test` compiles to dist/ before running the tests, so this is what `npm start` runs.
export const cli = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

export interface CliBroker {
  readonly child: ChildProcess;
  readonly port: number;
  /** Every line the broker has written to stdout so far (JSON log lines), and those still to come. */
  readonly lines: readonly string[];
}

/**
 * Starts the command-line broker and resolves with the port from its
 * "broker listening" log line. `launcher` is a command that runs it, given
 * the node command line as its last arguments. The broker is killed, and its
 * exit awaited, when the test ends.
 */
export function startCli(t: Test, args: readonly string[], launcher: readonly string[] = []): Promise<CliBroker> {
  const [command = process.execPath, ...commandArgs] = [...launcher, process.execPath, cli, ...args];
  const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  });
  const lines: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the broker did not log "broker listening" within 10 s')), 10_000);
    let partial = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      const split = (partial + chunk.toString()).split('\n');
      partial = split.pop()!;
      for (const line of split) {
        lines.push(line);
        if (!line.includes('"broker listening"')) continue;
        clearTimeout(timer);
        resolve({ child, port: (JSON.parse(line) as { port: number }).port, lines });
      }
    });
    child.once('exit', (code) => reject(new Error(`the broker exited with ${code}`)));
  });
}
