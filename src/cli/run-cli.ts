import { type BrokerOptions, startBroker } from '../broker.js';
import { FailoverNode } from '../failover/failover-node.js';
import { parseCliOptions, USAGE } from './options.js';

/**
 * The command-line broker: options from the arguments and the environment,
 * SIGINT and SIGTERM for a clean stop, exit status 1 when the store fails.
 * `extra` is for tests that run it with a simulated disk.
 */
export async function runCli(extra: Pick<BrokerOptions, 'storeFs'> = {}): Promise<void> {
  let options;
  try {
    options = parseCliOptions(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return;
  }
  const { help: _help, ...config } = options;
  // With etcd, a node runs one broker after another (a new one each time it loses the leadership).
  const node = config.replication?.arbiter === undefined ? await startBroker({ ...config, ...extra }) : await FailoverNode.start({ ...config, ...extra });
  const log = node instanceof FailoverNode ? node.current.log : node.log;
  const stop = (signal: string): void => {
    log.info(`${signal} received, shutting down`);
    node.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  // A store failure closes the broker; exiting with 0 then would tell a supervisor all is well.
  void node.failed.then(() => process.exit(1));
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

/** What the command line prints when the broker cannot start. */
export function startFailed(err: unknown): never {
  process.stderr.write(`broker failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
