/**
 * The brokers the comparison runs against, each started as a child process
 * pinned to the given CPUs on its own port and data directory: this broker,
 * a private RabbitMQ (conformance/reference-rabbitmq.sh in the foreground),
 * and the null broker. Startup time is measured the same way for all: from
 * the spawn to the first connection.start on a fresh connection.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROTOCOL_HEADER } from './amqp/frames.js';
import { BrokerProcess, type LogLine } from './broker-process.js';
import { sleep } from './with-timeout.js';
import { processAlive } from '../test/support/cli-process.js';

const RABBITMQ_SCRIPT = fileURLToPath(new URL('../../conformance/reference-rabbitmq.sh', import.meta.url));
const RABBITMQ_SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const NULL_BROKER = fileURLToPath(new URL('./null-broker.js', import.meta.url));
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 60_000;
const PROBE_INTERVAL_MS = 2;

export interface RunningBroker {
  readonly name: string;
  readonly url: URL;
  /** The process whose CPU and RSS count (RabbitMQ's beam.smp, not its wrapper scripts). */
  readonly pid: number;
  /** Spawn to the first connection.start, in ms. */
  readonly startupMs: number;
  /** performance.now() at the spawn. */
  readonly spawnedAt: number;
  /** This broker's own log lines up to now (ours only). */
  readonly logLines?: () => readonly LogLine[];
  /** A clean stop. */
  stop(): Promise<void>;
  /** SIGKILL to the broker process (a crash), then waits until it is gone. */
  kill(): Promise<void>;
}

/** True when nothing listens on 127.0.0.1:port (something there would be measured in the broker's place). */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

const loopback = (port: number): URL => new URL(`amqp://guest:guest@127.0.0.1:${port}`);

/** One attempt: connect, send the protocol header, resolve on the first bytes of a method frame. */
function probeOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 2000);
    socket.once('connect', () => socket.write(PROTOCOL_HEADER));
    socket.once('data', (chunk) => done(chunk[0] === 1));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

/** Polls the port until a connection gets connection.start; ms since t0. Gives up when `gone` says the process died. */
async function waitForAmqp(port: number, t0: number, gone: () => string | undefined, timeoutMs = START_TIMEOUT_MS): Promise<number> {
  while (performance.now() - t0 < timeoutMs) {
    if (await probeOnce(port)) return performance.now() - t0;
    const reason = gone();
    if (reason !== undefined) throw new Error(`the broker on port ${port} exited before accepting connections: ${reason}`);
    await sleep(PROBE_INTERVAL_MS);
  }
  throw new Error(`nothing accepted AMQP connections on port ${port} within ${timeoutMs} ms`);
}

/** Resolves when the child has exited, or after timeoutMs (false). */
function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

const exitReason = (child: ChildProcess): string | undefined =>
  child.exitCode !== null ? `exit code ${child.exitCode}` : child.signalCode !== null ? `signal ${child.signalCode}` : undefined;

export async function startOurs(options: { port: number; dataDir: string; logFile: string; cpus: string; nodeArgs?: readonly string[]; timeoutMs?: number }): Promise<RunningBroker> {
  const t0 = performance.now();
  const timeoutMs = options.timeoutMs ?? START_TIMEOUT_MS;
  let failed: string | undefined;
  const starting = BrokerProcess.start(options.dataDir, options.logFile, timeoutMs, {
    port: options.port,
    cpus: options.cpus,
    ...(options.nodeArgs === undefined ? {} : { nodeArgs: options.nodeArgs }),
  });
  starting.catch((err: unknown) => (failed = (err as Error).message));
  const startupMs = await waitForAmqp(options.port, t0, () => failed, timeoutMs);
  const { broker } = await starting;
  return {
    name: 'ours',
    url: loopback(options.port),
    pid: broker.pid,
    startupMs,
    spawnedAt: t0,
    logLines: () => broker.logLines,
    // SIGTERM: a clean exit, which is also when --cpu-prof writes its profile.
    stop: () => broker.stop('SIGTERM', STOP_TIMEOUT_MS),
    kill: () => broker.stop('SIGKILL', STOP_TIMEOUT_MS),
  };
}

/** Installs RabbitMQ from Debian when it is missing (the reference script's install step). */
export function ensureRabbitMQ(): void {
  if (existsSync(RABBITMQ_SERVER)) return;
  execFileSync('bash', [RABBITMQ_SCRIPT, 'install'], { stdio: 'inherit' });
}

export function packageVersion(name: string): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', name], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** A private RabbitMQ node on `port`, everything under `dir` (fresh mnesia there = an empty data directory). */
export async function startRabbitMQ(options: { port: number; dir: string; cpus: string; timeoutMs?: number }): Promise<RunningBroker> {
  mkdirSync(options.dir, { recursive: true });
  // A pid file left by a node that was killed would name a process long gone (restarts on the same directory).
  rmSync(join(options.dir, 'rabbit.pid'), { force: true });
  const log = openSync(join(options.dir, 'stdout.log'), 'a');
  const t0 = performance.now();
  const child = spawn('taskset', ['-c', options.cpus, 'bash', RABBITMQ_SCRIPT, 'foreground', String(options.port)], {
    env: { ...process.env, REFERENCE_DIR: options.dir },
    stdio: ['ignore', log, log],
  });
  const stop = async (): Promise<void> => {
    const beam = readPid(join(options.dir, 'rabbit.pid'));
    // The rabbitmq-server wrapper stops the node cleanly on SIGTERM.
    child.kill('SIGTERM');
    if (!(await exited(child, STOP_TIMEOUT_MS))) child.kill('SIGKILL');
    for (let i = 0; beam !== undefined && processAlive(beam) && i < 100; i++) await sleep(100);
    if (beam !== undefined && processAlive(beam)) process.kill(beam, 'SIGKILL');
  };
  try {
    const startupMs = await waitForAmqp(options.port, t0, () => exitReason(child), options.timeoutMs);
    let pid: number | undefined;
    for (let i = 0; i < 100 && pid === undefined; i++) {
      pid = readPid(join(options.dir, 'rabbit.pid'));
      if (pid === undefined) await sleep(100);
    }
    if (pid === undefined) throw new Error(`no pid in ${options.dir}/rabbit.pid`);
    const beam = pid;
    const kill = async (): Promise<void> => {
      // The node itself (beam.smp) dies; its wrapper scripts then exit on their own.
      if (processAlive(beam)) process.kill(beam, 'SIGKILL');
      for (let i = 0; processAlive(beam) && i < 100; i++) await sleep(100);
      if (!(await exited(child, STOP_TIMEOUT_MS))) child.kill('SIGKILL');
    };
    return { name: 'rabbitmq', url: loopback(options.port), pid, startupMs, spawnedAt: t0, stop, kill };
  } catch (err) {
    await stop();
    throw err;
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The null broker; with echo, the latency floor (see null-broker.ts), named 'floor'. */
export async function startNullBroker(options: { port: number; cpus: string; echo?: boolean }): Promise<RunningBroker> {
  const t0 = performance.now();
  const args = ['-c', options.cpus, process.execPath, NULL_BROKER, '--port', String(options.port), ...(options.echo === true ? ['--echo'] : [])];
  const child = spawn('taskset', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    const startupMs = await waitForAmqp(options.port, t0, () => exitReason(child));
    const end = async (signal: NodeJS.Signals): Promise<void> => {
      child.kill(signal);
      if (!(await exited(child, STOP_TIMEOUT_MS))) child.kill('SIGKILL');
    };
    return {
      name: options.echo === true ? 'floor' : 'null',
      url: loopback(options.port),
      pid: child.pid!,
      startupMs,
      spawnedAt: t0,
      stop: () => end('SIGTERM'),
      kill: () => end('SIGKILL'),
    };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

/**
 * Runs a bench's `main`, stopping every broker still in `running` (by its
 * own pid) when it fails or the bench is interrupted, so no broker outlives
 * the run. Exits 1 on failure, 130 on SIGINT or SIGTERM.
 */
export function runStoppingBrokers(main: () => Promise<void>, running: ReadonlySet<RunningBroker>, stop: (b: RunningBroker) => Promise<void>, say: (line: string) => void): void {
  const stopAll = (): Promise<unknown> => Promise.allSettled([...running].map((b) => stop(b)));
  const abort = async (signal: string): Promise<void> => {
    say(`${signal}: stopping the brokers`);
    await stopAll();
    process.exit(130);
  };
  process.once('SIGINT', () => void abort('SIGINT'));
  process.once('SIGTERM', () => void abort('SIGTERM'));
  main().catch(async (err: unknown) => {
    say(`bench failed: ${(err as Error).stack ?? String(err)}`);
    await stopAll();
    process.exit(1);
  });
}
