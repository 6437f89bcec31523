import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG } from '../config/broker-config.js';

export const USAGE = `Usage: npm start -- [options]

Options (each also read from the environment variable shown):
  --port <n>          TCP port to listen on            AMQP_BROKER_PORT       (default ${DEFAULT_CONFIG.port})
  --host <addr>       address to bind                  AMQP_BROKER_HOST       (default ${DEFAULT_CONFIG.host})
  --data-dir <path>   where durable state is kept      AMQP_BROKER_DATA_DIR   (default ./data)
  --log-level <lvl>   fatal|error|warn|info|debug|trace AMQP_BROKER_LOG_LEVEL (default ${DEFAULT_CONFIG.logLevel})
  --consumer-timeout <ms|off>
                      ms a delivery may wait for its ack AMQP_BROKER_CONSUMER_TIMEOUT (default ${DEFAULT_CONFIG.consumerTimeout}; 0 or off: none)
  --help              print this help
`;

export interface CliOptions {
  readonly help: boolean;
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly logLevel: string;
  /** Milliseconds; 0 when off. */
  readonly consumerTimeout: number;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Command-line flags win over environment variables, which win over defaults. */
export function parseCliOptions(argv: readonly string[], env: NodeJS.ProcessEnv): CliOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      'log-level': { type: 'string' },
      'consumer-timeout': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  const portText = values.port ?? env['AMQP_BROKER_PORT'] ?? String(DEFAULT_CONFIG.port);
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port '${portText}'`);
  const logLevel = values['log-level'] ?? env['AMQP_BROKER_LOG_LEVEL'] ?? DEFAULT_CONFIG.logLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new Error(`invalid log level '${logLevel}' (one of ${LOG_LEVELS.join(', ')})`);
  const consumerTimeout = parseConsumerTimeout(values['consumer-timeout'] ?? env['AMQP_BROKER_CONSUMER_TIMEOUT'] ?? String(DEFAULT_CONFIG.consumerTimeout));
  return {
    help: values.help ?? false,
    port,
    host: values.host ?? env['AMQP_BROKER_HOST'] ?? DEFAULT_CONFIG.host,
    dataDir: resolve(values['data-dir'] ?? env['AMQP_BROKER_DATA_DIR'] ?? 'data'),
    logLevel,
    consumerTimeout,
  };
}

/** RabbitMQ's consumer_timeout: milliseconds, or off (0). */
function parseConsumerTimeout(text: string): number {
  if (text === 'off') return 0;
  if (!/^\d+$/.test(text)) throw new Error(`invalid consumer timeout '${text}' (milliseconds, or off)`);
  return Number(text);
}
