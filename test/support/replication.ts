import { type Logger, pino } from 'pino';
import type { Test } from 'tap';
import type { Broker, BrokerOptions } from '../../src/broker.js';
import { startBroker } from '../../src/broker.js';
import type { ReplicationConfig } from '../../src/config/broker-config.js';
import type * as amqp from 'amqplib';
import { connect, eventually } from './broker.js';
import { type CliBroker, startCli } from './cli-process.js';
import { tempDataDir } from './data-dir.js';

export const SECRET = 'test cluster secret';

/** Replication settings for tests: a port the system picks, a short timeout. */
export function replication(overrides: Partial<ReplicationConfig> = {}): ReplicationConfig {
  return { port: 0, standbyOf: undefined, secret: SECRET, policy: 'hold', timeoutMs: 2000, ...overrides };
}

/** A broker on its own data directory (kept across restarts), closed at the end of the test unless the test closed it. */
export async function startNode(t: Test, dataDir: string, options: BrokerOptions): Promise<Broker> {
  const broker = await startBroker({ dataDir, ...options });
  let closed = false;
  const close = broker.close.bind(broker);
  broker.close = async () => {
    if (closed) return;
    closed = true;
    await close();
  };
  t.teardown(() => broker.close());
  return broker;
}

/** A primary with a standby attached and in sync. */
export async function startPair(
  t: Test,
  options: { primary?: BrokerOptions; standby?: BrokerOptions; replication?: Partial<ReplicationConfig> } = {},
): Promise<{ primary: Broker; standby: Broker; primaryDir: string; standbyDir: string }> {
  const primaryDir = tempDataDir(t, 'primary-');
  const standbyDir = tempDataDir(t, 'standby-');
  const primary = await startNode(t, primaryDir, { replication: replication(options.replication), ...options.primary });
  const standby = await startStandby(t, standbyDir, primary, options.replication, options.standby);
  return { primary, standby, primaryDir, standbyDir };
}

/** A pair as startPair makes it, with a client connection to the primary and a confirm channel on it. */
export async function startPairWithChannel(
  t: Test,
  options: Parameters<typeof startPair>[1] = {},
): Promise<Awaited<ReturnType<typeof startPair>> & { connection: amqp.ChannelModel; ch: amqp.ConfirmChannel }> {
  const pair = await startPair(t, options);
  const connection = await connect(t, pair.primary);
  return { ...pair, connection, ch: await connection.createConfirmChannel() };
}

/** A standby of `primary`, once in sync. */
export async function startStandby(t: Test, dataDir: string, primary: Broker, overrides: Partial<ReplicationConfig> = {}, options: BrokerOptions = {}): Promise<Broker> {
  const standby = await startNode(t, dataDir, { replication: replication({ ...overrides, standbyOf: { host: '127.0.0.1', port: primary.replicationPort! } }), ...options });
  await inSync(standby);
  return standby;
}

export async function inSync(standby: Broker, ms = 20_000): Promise<void> {
  await eventually(() => standby.replicationStatus()?.state === 'in sync', ms, 'the standby is in sync');
}

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

/** A logger whose lines a test can look at. */
export function capturedLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  return { logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) }), lines };
}

/** A replicating broker as a child process, started as an operator would; `args` add the replication flags. */
export function startNodeProcess(t: Test, dataDir: string, args: readonly string[]): Promise<CliBroker> {
  return startCli(t, ['--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--cluster-secret', SECRET, ...args]);
}

/** Resolves with the index of the first log line at or after `from` that contains `text`. */
export async function waitForLine(broker: CliBroker, text: string, ms: number, from = 0): Promise<number> {
  let found = -1;
  await eventually(() => (found = broker.lines.findIndex((line, i) => i >= from && line.includes(text))) >= 0, ms, `the log line "${text}"`);
  return found;
}

/** The replication port a primary process logged. */
export async function replicationPortOf(broker: CliBroker): Promise<number> {
  const i = await waitForLine(broker, 'primary listening for its standby', 10_000);
  return (JSON.parse(broker.lines[i]!) as { port: number }).port;
}
