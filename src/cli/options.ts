import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import {
  DEFAULT_CONFIG,
  DEFAULT_ETCD_PREFIX,
  DEFAULT_LEASE_TTL_SECONDS,
  DEFAULT_REPLICATION_PORT,
  DEFAULT_REPLICATION_TIMEOUT_MS,
  DEFAULT_TLS_PORT,
  type ReplicationConfig,
  type TlsListenerConfig,
} from '../config/broker-config.js';
import { parseInformationUnit } from '../config/information-unit.js';
import { parsePort } from '../config/host-port.js';
import { isSet, parseCount } from './option-values.js';
import { parseReplication } from './replication-options.js';

export const USAGE = `Usage: npm start -- [options]

Options (each also read from the environment variable shown):
  --port <n>          TCP port to listen on            AMQP_BROKER_PORT       (default ${DEFAULT_CONFIG.port})
  --host <addr>       address to bind                  AMQP_BROKER_HOST       (default ${DEFAULT_CONFIG.host})
  --data-dir <path>   where durable state is kept      AMQP_BROKER_DATA_DIR   (default ./data)
  --log-level <lvl>   fatal|error|warn|info|debug|trace AMQP_BROKER_LOG_LEVEL (default ${DEFAULT_CONFIG.logLevel})
  --consumer-timeout <ms|off>
                      ms a delivery may wait for its ack AMQP_BROKER_CONSUMER_TIMEOUT (default ${DEFAULT_CONFIG.consumerTimeout}; 0 or off: none)
  --memory-high-watermark <share|bytes>
                      memory use that blocks publishers AMQP_BROKER_MEMORY_HIGH_WATERMARK
                      (default ${DEFAULT_CONFIG.memoryHighWatermark} of RAM or of the cgroup limit; bytes like 1GB, 512MiB)
  --memory-paging-ratio <share>
                      share of that memory use above which waiting messages
                      are paged out to disk       AMQP_BROKER_MEMORY_PAGING_RATIO (default ${DEFAULT_CONFIG.memoryPagingRatio})
  --disk-free-limit <bytes>
                      free disk space that blocks publishers AMQP_BROKER_DISK_FREE_LIMIT
                      (default ${DEFAULT_CONFIG.diskFreeLimit}; units like 50MB, 2GiB)
  --handshake-timeout <s>
                      seconds a client has to open its connection AMQP_BROKER_HANDSHAKE_TIMEOUT (default ${DEFAULT_CONFIG.handshakeTimeout})
  --max-connections <n>
                      connections the node takes at most  AMQP_BROKER_MAX_CONNECTIONS (default 0: no limit)
  --tls-cert <file> --tls-key <file>
                      also listen for amqps (TLS 1.2+)  AMQP_BROKER_TLS_CERT, AMQP_BROKER_TLS_KEY
  --tls-port <n>      amqps port                       AMQP_BROKER_TLS_PORT   (default ${DEFAULT_TLS_PORT})
  --tls-ca <file>     CA bundle client certificates must chain to   AMQP_BROKER_TLS_CA
  --tls-verify <none|peer>
                      peer: ask for a client certificate and refuse one that does not verify
                      (then EXTERNAL logs in as its CN)  AMQP_BROKER_TLS_VERIFY (default none)
  --tls-fail-if-no-peer-cert
                      with --tls-verify peer, also refuse clients without one   AMQP_BROKER_TLS_FAIL_IF_NO_PEER_CERT=1
  --replication-port <n>
                      mirror to a standby that connects here   AMQP_BROKER_REPLICATION_PORT (default ${DEFAULT_REPLICATION_PORT} once replication is on)
  --standby-of <host:port>
                      start as the standby of the primary whose replication port this is
                                                       AMQP_BROKER_STANDBY_OF
  --cluster-secret <text> | --cluster-secret-file <file>
                      what both nodes prove they know (never sent)  AMQP_BROKER_CLUSTER_SECRET, AMQP_BROKER_CLUSTER_SECRET_FILE
  --replication-policy <hold|alone>
                      while the standby is out of sync: hold confirms, or confirm alone
                                                       AMQP_BROKER_REPLICATION_POLICY (default hold; alone with --etcd)
  --replication-timeout <ms>
                      a silent peer is dropped after this   AMQP_BROKER_REPLICATION_TIMEOUT (default ${DEFAULT_REPLICATION_TIMEOUT_MS})
  --etcd <url[,url...]>
                      automatic failover: etcd elects the primary (instead of --standby-of)
                                                       AMQP_BROKER_ETCD
  --etcd-prefix <key> where this pair's keys live in etcd   AMQP_BROKER_ETCD_PREFIX (default ${DEFAULT_ETCD_PREFIX})
  --lease-ttl <s>     the primary's lease in etcd: a dead primary is replaced within it
                                                       AMQP_BROKER_LEASE_TTL (default ${DEFAULT_LEASE_TTL_SECONDS}, at least 2)
  --advertise-amqp <host:port> --advertise-replication <host:port>
                      how clients and the other node reach this one   AMQP_BROKER_ADVERTISE_AMQP,
                      (default: --host, or the host name when it is 0.0.0.0, and the ports)   AMQP_BROKER_ADVERTISE_REPLICATION
  --force-recover     start from a damaged data directory: move what cannot be
                      read aside (journal/damaged/) and keep the rest   AMQP_BROKER_FORCE_RECOVER=1
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
  /** Set when --memory-high-watermark is a share. */
  readonly memoryHighWatermark?: number;
  /** Set when --memory-high-watermark is bytes. */
  readonly memoryLimit?: number;
  readonly memoryPagingRatio: number;
  readonly diskFreeLimit: number;
  readonly forceRecover: boolean;
  readonly tls: TlsListenerConfig | undefined;
  readonly maxConnections: number;
  readonly handshakeTimeout: number;
  readonly replication: ReplicationConfig | undefined;
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
      'memory-high-watermark': { type: 'string' },
      'memory-paging-ratio': { type: 'string' },
      'disk-free-limit': { type: 'string' },
      'force-recover': { type: 'boolean' },
      'max-connections': { type: 'string' },
      'handshake-timeout': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-port': { type: 'string' },
      'tls-ca': { type: 'string' },
      'tls-verify': { type: 'string' },
      'tls-fail-if-no-peer-cert': { type: 'boolean' },
      'replication-port': { type: 'string' },
      'standby-of': { type: 'string' },
      'cluster-secret': { type: 'string' },
      'cluster-secret-file': { type: 'string' },
      'replication-policy': { type: 'string' },
      'replication-timeout': { type: 'string' },
      etcd: { type: 'string' },
      'etcd-prefix': { type: 'string' },
      'lease-ttl': { type: 'string' },
      'advertise-amqp': { type: 'string' },
      'advertise-replication': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  const port = parsePort('port', values.port ?? env['AMQP_BROKER_PORT'] ?? String(DEFAULT_CONFIG.port));
  const logLevel = values['log-level'] ?? env['AMQP_BROKER_LOG_LEVEL'] ?? DEFAULT_CONFIG.logLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new Error(`invalid log level '${logLevel}' (one of ${LOG_LEVELS.join(', ')})`);
  const consumerTimeout = parseConsumerTimeout(values['consumer-timeout'] ?? env['AMQP_BROKER_CONSUMER_TIMEOUT'] ?? String(DEFAULT_CONFIG.consumerTimeout));
  const watermark = values['memory-high-watermark'] ?? env['AMQP_BROKER_MEMORY_HIGH_WATERMARK'];
  const pagingRatioText = values['memory-paging-ratio'] ?? env['AMQP_BROKER_MEMORY_PAGING_RATIO'] ?? String(DEFAULT_CONFIG.memoryPagingRatio);
  const memoryPagingRatio = Number(pagingRatioText);
  // Above 1 it never pages before the alarm, as in RabbitMQ.
  if (!/^\d*\.?\d+$/.test(pagingRatioText) || memoryPagingRatio <= 0) throw new Error(`invalid memory paging ratio '${pagingRatioText}' (a share such as 0.5; above 1: no paging)`);
  const diskFreeLimitText = values['disk-free-limit'] ?? env['AMQP_BROKER_DISK_FREE_LIMIT'];
  const diskFreeLimit = diskFreeLimitText === undefined ? DEFAULT_CONFIG.diskFreeLimit : parseInformationUnit(diskFreeLimitText);
  if (diskFreeLimit === undefined) throw new Error(`invalid disk free limit '${diskFreeLimitText}' (bytes, or with a unit: 50MB, 2GiB)`);
  return {
    help: values.help ?? false,
    port,
    host: values.host ?? env['AMQP_BROKER_HOST'] ?? DEFAULT_CONFIG.host,
    dataDir: resolve(values['data-dir'] ?? env['AMQP_BROKER_DATA_DIR'] ?? 'data'),
    logLevel,
    consumerTimeout,
    ...(watermark === undefined ? {} : parseMemoryWatermark(watermark)),
    memoryPagingRatio,
    diskFreeLimit,
    forceRecover: values['force-recover'] ?? isSet(env['AMQP_BROKER_FORCE_RECOVER']),
    tls: parseTls(values, env),
    handshakeTimeout: parseCount('handshake timeout', values['handshake-timeout'] ?? env['AMQP_BROKER_HANDSHAKE_TIMEOUT'] ?? String(DEFAULT_CONFIG.handshakeTimeout)),
    maxConnections: parseCount('max connections', values['max-connections'] ?? env['AMQP_BROKER_MAX_CONNECTIONS'] ?? String(DEFAULT_CONFIG.maxConnections)),
    replication: parseReplication(values, env),
  };
}

/** The amqps listener, when a certificate and a key are given (one without the other is a mistake). */
function parseTls(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): TlsListenerConfig | undefined {
  const text = (name: string, variable: string): string | undefined => (values[name] as string | undefined) ?? env[variable];
  const certFile = text('tls-cert', 'AMQP_BROKER_TLS_CERT');
  const keyFile = text('tls-key', 'AMQP_BROKER_TLS_KEY');
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) throw new Error('amqps needs both --tls-cert and --tls-key');
  const port = parsePort('TLS port', text('tls-port', 'AMQP_BROKER_TLS_PORT') ?? String(DEFAULT_TLS_PORT));
  const verify = text('tls-verify', 'AMQP_BROKER_TLS_VERIFY') ?? 'none';
  if (verify !== 'none' && verify !== 'peer') throw new Error(`invalid --tls-verify '${verify}' (none or peer)`);
  const caFile = text('tls-ca', 'AMQP_BROKER_TLS_CA');
  const failIfNoPeerCert = (values['tls-fail-if-no-peer-cert'] as boolean | undefined) ?? isSet(env['AMQP_BROKER_TLS_FAIL_IF_NO_PEER_CERT']);
  return { port, certFile: resolve(certFile), keyFile: resolve(keyFile), caFile: caFile === undefined ? undefined : resolve(caFile), verifyPeer: verify === 'peer', failIfNoPeerCert };
}

/**
 * RabbitMQ's vm_memory_high_watermark: up to 1 it is a share of the available
 * memory (.relative), with a unit or above 1 it is bytes (.absolute).
 */
function parseMemoryWatermark(text: string): { memoryHighWatermark: number } | { memoryLimit: number } {
  if (/^\d*\.?\d+$/.test(text) && Number(text) <= 1) return { memoryHighWatermark: Number(text) };
  const bytes = parseInformationUnit(text);
  if (bytes === undefined) throw new Error(`invalid memory high watermark '${text}' (a share up to 1 such as 0.4, or bytes such as 1GB, 512MiB)`);
  return { memoryLimit: bytes };
}

/** RabbitMQ's consumer_timeout: milliseconds, or off (0). */
function parseConsumerTimeout(text: string): number {
  if (text === 'off') return 0;
  if (!/^\d+$/.test(text)) throw new Error(`invalid consumer timeout '${text}' (milliseconds, or off)`);
  return Number(text);
}
