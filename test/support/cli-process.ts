import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';

// `npm test` compiles to dist/ before running the tests, so this is what `npm start` runs.
export const cli = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
/** The command-line broker on a disk that forgets unsynced writes when killed (volatile-node.ts): for fault tests, as startCli's entry. */
export const volatileCli = fileURLToPath(new URL('../../dist/test/support/volatile-node.js', import.meta.url));

export interface CliBroker {
  readonly child: ChildProcess;
  readonly port: number;
  /** Every line the broker has written to stdout so far (JSON log lines), and those still to come. */
  readonly lines: readonly string[];
}

/**
 * Starts the command-line broker and resolves with the port from its
 * "broker listening" log line. `launcher` is a command that runs it, given
 * the node command line as its last arguments; `entry` a script that runs
 * the command line differently (volatile-node.ts). The broker is killed, and its
 * exit awaited, when the test ends.
 */
export function startCli(t: Test, args: readonly string[], launcher: readonly string[] = [], entry = cli): Promise<CliBroker> {
  const [command = process.execPath, ...commandArgs] = [...launcher, process.execPath, entry, ...args];
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

const ctl = fileURLToPath(new URL('../../dist/src/cli/ctl.js', import.meta.url));

/** Runs the ctl tool (killed after `timeoutMs`); resolves with its exit code and output. */
export function runCtl(dataDir: string, ...words: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCtlWithin(20_000, dataDir, ...words);
}

export function runCtlWithin(timeoutMs: number, dataDir: string, ...words: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [ctl, '--data-dir', dataDir, ...words], { timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

/** A short data directory: a Unix socket path must fit in 107 bytes. */
export function shortDataDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'ctl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}


/** Whether a process with this pid is alive (signal 0 reaches it). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
