import { readFileSync } from 'node:fs';
import { type ArbiterConfig, DEFAULT_ETCD_PREFIX, DEFAULT_LEASE_TTL_SECONDS, DEFAULT_REPLICATION_PORT, DEFAULT_REPLICATION_TIMEOUT_MS, type ReplicationConfig } from '../config/broker-config.js';
import { parseHostPort, parsePort } from '../config/host-port.js';
import { parseCount } from './option-values.js';

type Values = Record<string, string | boolean | undefined>;

/** The replication link, when a replication port, a primary or etcd is given; both nodes need the cluster secret. */
export function parseReplication(values: Values, env: NodeJS.ProcessEnv): ReplicationConfig | undefined {
  const text = (name: string, variable: string): string | undefined => (values[name] as string | undefined) ?? env[variable];
  const portText = text('replication-port', 'AMQP_BROKER_REPLICATION_PORT');
  const standbyOfText = text('standby-of', 'AMQP_BROKER_STANDBY_OF');
  const arbiter = parseArbiter(values, env);
  if (portText === undefined && standbyOfText === undefined && arbiter === undefined) return undefined;
  if (standbyOfText !== undefined && arbiter !== undefined) throw new Error('--standby-of and --etcd do not go together: with etcd, etcd says which node is the primary');
  const port = parsePort('replication port', portText ?? String(DEFAULT_REPLICATION_PORT));
  const standbyOf = standbyOfText === undefined ? undefined : parseHostPort('--standby-of (the primary\'s replication port)', standbyOfText);
  const secretFile = text('cluster-secret-file', 'AMQP_BROKER_CLUSTER_SECRET_FILE');
  const secret = secretFile === undefined ? text('cluster-secret', 'AMQP_BROKER_CLUSTER_SECRET') : readFileSync(secretFile, 'utf8').trim();
  if (secret === undefined || secret === '') throw new Error('replication needs the cluster secret: --cluster-secret or --cluster-secret-file (the same on both nodes)');
  // With an arbiter, confirming alone is recorded in etcd first, so the standby cannot take over without those messages.
  const policy = text('replication-policy', 'AMQP_BROKER_REPLICATION_POLICY') ?? (arbiter === undefined ? 'hold' : 'alone');
  if (policy !== 'hold' && policy !== 'alone') throw new Error(`invalid --replication-policy '${policy}' (hold or alone)`);
  const timeoutMs = parseCount('replication timeout', text('replication-timeout', 'AMQP_BROKER_REPLICATION_TIMEOUT') ?? String(DEFAULT_REPLICATION_TIMEOUT_MS));
  if (timeoutMs < 100) throw new Error('the replication timeout is in milliseconds, at least 100');
  return { port, standbyOf, secret, policy, timeoutMs, arbiter };
}

/** Automatic failover, when etcd's URLs are given. */
function parseArbiter(values: Values, env: NodeJS.ProcessEnv): ArbiterConfig | undefined {
  const text = (name: string, variable: string): string | undefined => (values[name] as string | undefined) ?? env[variable];
  const etcdText = text('etcd', 'AMQP_BROKER_ETCD');
  if (etcdText === undefined) return undefined;
  const etcd = etcdText.split(',').map((url) => url.trim());
  for (const url of etcd) if (!/^https?:\/\/[^/]+$/.test(url)) throw new Error(`invalid etcd URL '${url}' (http://host:2379)`);
  const prefix = text('etcd-prefix', 'AMQP_BROKER_ETCD_PREFIX') ?? DEFAULT_ETCD_PREFIX;
  if (prefix === '') throw new Error('the etcd prefix cannot be empty');
  const leaseTtlSeconds = parseCount('lease TTL', text('lease-ttl', 'AMQP_BROKER_LEASE_TTL') ?? String(DEFAULT_LEASE_TTL_SECONDS));
  if (leaseTtlSeconds < 2) throw new Error('the lease TTL is in seconds, at least 2');
  const advertised = (name: string, variable: string): string | undefined => {
    const address = text(name, variable);
    if (address !== undefined) parseHostPort(`--${name}`, address);
    return address;
  };
  return {
    etcd,
    prefix,
    leaseTtlSeconds,
    advertise: { amqp: advertised('advertise-amqp', 'AMQP_BROKER_ADVERTISE_AMQP'), replication: advertised('advertise-replication', 'AMQP_BROKER_ADVERTISE_REPLICATION') },
  };
}
