/**
 * The broker as a child process, for benchmarks that restart or kill it:
 * spawns dist/src/cli/main.js on an OS-chosen loopback port, follows its
 * JSON log lines (also appended to a log file).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

export type LogLine = Record<string, unknown> & { msg?: string };

export interface BrokerStart {
  /** Spawn to the "broker listening" line. */
  readonly listeningMs: number;
  /** The "journal recovered" line (records, messages, segments, ms), when there was one. */
  readonly journalRecovered: LogLine | undefined;
  /** The `ms` of the "data directory recovered" line. */
  readonly dataDirRecoveredMs: number | undefined;
}

export interface BrokerOptions {
  readonly port?: number;
  readonly nodeArgs?: readonly string[];
  /** CPUs to pin the broker to, as `taskset -c` takes them ("1"). */
  readonly cpus?: string;
  /** More command-line flags (replication, say). */
  readonly args?: readonly string[];
}

export class BrokerProcess {
  port = 0;
  private exitCode: number | null | undefined;
  private readonly lines: LogLine[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(
    private readonly child: ChildProcess,
    private readonly log: WriteStream,
  ) {
    const onLine = (text: string): void => {
      log.write(`${text}\n`);
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { msg: text };
      }
      this.lines.push(line);
      for (const wake of [...this.waiters]) wake();
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    child.once('exit', (code, signal) => {
      this.exitCode = code ?? (signal === null ? null : -1);
      for (const wake of [...this.waiters]) wake();
    });
  }

  /**
   * Spawns the broker on dataDir and waits (at most timeoutMs) until it
   * listens: on an OS-chosen port unless one is given, with extra node
   * flags (--cpu-prof, say), pinned to `cpus` (taskset's list) when given.
   */
  static async start(dataDir: string, logFile: string, timeoutMs: number, options: BrokerOptions = {}): Promise<{ broker: BrokerProcess; start: BrokerStart }> {
    const log = createWriteStream(logFile, { flags: 'a' });
    const t0 = performance.now();
    const argv = [...(options.nodeArgs ?? []), MAIN, '--port', String(options.port ?? 0), '--host', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'info', ...(options.args ?? [])];
    // taskset execs node: the child's pid is the broker's.
    const [command, args] = options.cpus === undefined ? [process.execPath, argv] : ['taskset', ['-c', options.cpus, process.execPath, ...argv]];
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const broker = new BrokerProcess(child, log);
    const listening = await broker.waitFor((l) => l.msg === 'broker listening', timeoutMs, 'broker listening');
    const listeningMs = performance.now() - t0;
    broker.port = Number(listening['port']);
    const journalRecovered = broker.lines.find((l) => l.msg === 'journal recovered');
    const dirMs = broker.lines.find((l) => l.msg === 'data directory recovered')?.['ms'];
    return { broker, start: { listeningMs, journalRecovered, dataDirRecoveredMs: typeof dirMs === 'number' ? dirMs : undefined } };
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Every log line so far, oldest first. */
  get logLines(): readonly LogLine[] {
    return this.lines;
  }

  /** Resolves with the first log line (already seen or future) matching, or rejects after timeoutMs or when the broker exits. */
  waitFor(match: (l: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.lines.find(match);
        if (found !== undefined) return finish(() => resolve(found));
        if (this.exitCode !== undefined) finish(() => reject(new Error(`broker exited (${this.exitCode}) before "${what}": ${this.tail()}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`no "${what}" from the broker within ${timeoutMs} ms: ${this.tail()}`))), timeoutMs);
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Sends the signal and waits (at most timeoutMs) for the process to be gone. */
  async stop(signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
    if (this.exitCode === undefined) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`broker still running ${timeoutMs} ms after ${signal}`)), timeoutMs);
      });
      await Promise.race([exited, timeout]).finally(() => clearTimeout(timer));
    }
    await new Promise<void>((resolve) => this.log.end(resolve));
  }

  private tail(): string {
    return this.lines
      .slice(-5)
      .map((l) => JSON.stringify(l))
      .join(' | ');
  }
}
