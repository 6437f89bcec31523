import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Test } from 'tap';
import type { ArbiterConfig } from '../../src/config/broker-config.js';
import { FailoverNode } from '../../src/failover/failover-node.js';
import { eventually } from './broker.js';
import { tempDataDir } from './data-dir.js';
import type { TestEtcd } from './etcd.js';
import { capturedLogger, type LogLine, SECRET } from './replication.js';
import { freePorts, TcpProxy } from './tcp-proxy.js';

/** The lease in the tests: short enough for quick failovers, long enough for a busy machine. */
export const TEST_LEASE_TTL_SECONDS = 3;

/** One node of a pair under test: its ports, and proxies the test owns on its way to etcd and to its replication port. */
export interface TestNode {
  readonly name: string;
  readonly dataDir: string;
  readonly amqpPort: number;
  /** Between this node and etcd. */
  readonly toEtcd: TcpProxy;
  /** In front of this node's replication port: what it advertises, so the test can cut its standby off. */
  readonly toReplication: TcpProxy;
  readonly lines: LogLine[];
  node: FailoverNode | undefined;
  start(): Promise<FailoverNode>;
}

/**
 * A node of a pair sharing `prefix` in `etcd`; started by start(), closed
 * when the test ends. It reaches etcd's first member through its proxy,
 * or, with `everyMember`, all of them directly.
 */
export async function failoverNode(t: Test, etcd: TestEtcd, name: string, prefix: string, everyMember = false): Promise<TestNode> {
  const [amqpPort, replicationPort] = await freePorts(2);
  const toEtcd = await TcpProxy.start(etcd.clientPort);
  const toReplication = await TcpProxy.start(replicationPort!);
  const { logger, lines } = capturedLogger();
  const dataDir = tempDataDir(t, `failover-${name}-`);
  const arbiter: ArbiterConfig = {
    etcd: everyMember ? etcd.urls : [`http://127.0.0.1:${toEtcd.port}`],
    prefix,
    leaseTtlSeconds: TEST_LEASE_TTL_SECONDS,
    advertise: { replication: `127.0.0.1:${toReplication.port}` },
  };
  const node: TestNode = {
    name,
    dataDir,
    amqpPort: amqpPort!,
    toEtcd,
    toReplication,
    lines,
    node: undefined,
    async start() {
      node.node = await FailoverNode.start({
        dataDir,
        host: '127.0.0.1',
        port: amqpPort!,
        logger: logger.child({ node: name }) as Logger,
        replication: { port: replicationPort!, standbyOf: undefined, secret: SECRET, policy: 'alone', timeoutMs: 1000, arbiter },
      });
      return node.node;
    },
  };
  t.teardown(async () => {
    await node.node?.close();
    await toEtcd.close();
    await toReplication.close();
  });
  return node;
}

/** Two nodes under a fresh key prefix, once one is primary and the other in sync with it. */
export async function electedPair(t: Test, etcd: TestEtcd, everyMember = false): Promise<{ primary: TestNode; standby: TestNode }> {
  const prefix = `/test-${randomBytes(4).toString('hex')}/`;
  const nodes = [await failoverNode(t, etcd, 'A', prefix, everyMember), await failoverNode(t, etcd, 'B', prefix, everyMember)];
  await Promise.all(nodes.map((n) => n.start()));
  return settledPair(nodes[0]!, nodes[1]!);
}

/** Whether the node is a primary serving clients (a promotion under way is not yet). */
export const leads = (node: TestNode): boolean => node.node?.current.role === 'primary' && node.node.current.serviceRefusal() === undefined;

/** Waits until one of the two leads and the other is in sync with it, as etcd's in-sync record says too. */
export async function settledPair(a: TestNode, b: TestNode, ms = 30_000): Promise<{ primary: TestNode; standby: TestNode }> {
  let pair: { primary: TestNode; standby: TestNode } | undefined;
  await eventually(
    () => {
      const [primary, standby] = leads(a) ? [a, b] : [b, a];
      if (!leads(primary) || standby.node?.current.replicationStatus()?.state !== 'in sync') return false;
      if (standby.node.status()['in_sync_record'] !== `standby ${standby.node.id} in sync with ${primary.node!.id} in epoch ${primary.node!.current.replicationStatus()?.epoch}`) return false;
      pair = { primary, standby };
      return true;
    },
    ms,
    'one node leads and the other is in sync with it',
  );
  return pair!;
}

export const urlOf = (node: TestNode): string => `amqp://guest:guest@127.0.0.1:${node.amqpPort}`;
