import { type BrokerOptions, startBroker } from '../broker.js';
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
  const broker = await startBroker({ ...config, ...extra });
  const stop = (signal: string): void => {
    broker.log.info(`${signal} received, shutting down`);
    broker.close().then(
      () => process.exit(0),
      (err: unknown) => {
        broker.log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  // A store failure closes the broker; exiting with 0 then would tell a supervisor all is well.
  void broker.failed.then(() => process.exit(1));
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

/** What the command line prints when the broker cannot start. */
export function startFailed(err: unknown): never {
  process.stderr.write(`broker failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
