import * as amqp from 'amqplib';
import t from 'tap';
import { eventually, within } from '../support/broker.js';
import { type CliBroker, runCtl, shortDataDir, startCli } from '../support/cli-process.js';
import { TestEtcd } from '../support/etcd.js';
import { SECRET, waitForLine } from '../support/replication.js';
import { freePorts } from '../support/tcp-proxy.js';

// Two command-line nodes under automatic failover, with real signals: a
// primary paused past its lease (a zombie) must act on nothing it receives
// once it wakes, and comes back as the standby of the node that took over.

const LEASE_TTL_SECONDS = 3;

interface ProcessNode {
  readonly dir: string;
  readonly port: number;
  readonly broker: CliBroker;
}

async function startNode(t: Parameters<typeof startCli>[0], etcd: TestEtcd): Promise<ProcessNode> {
  const dir = shortDataDir(t);
  const [port, replicationPort] = await freePorts(2);
  // prettier-ignore
  const broker = await startCli(t, [
    '--port', String(port), '--host', '127.0.0.1', '--data-dir', dir, '--cluster-secret', SECRET,
    '--replication-port', String(replicationPort), '--replication-timeout', '1000',
    '--etcd', etcd.url, '--lease-ttl', String(LEASE_TTL_SECONDS),
  ]);
  return { dir, port: port!, broker };
}

const status = async (node: ProcessNode): Promise<Record<string, string>> =>
  Object.fromEntries((await runCtl(node.dir, 'replication_status')).stdout.split('\n').flatMap((line) => (line.includes('\t') ? [line.split('\t', 2) as [string, string]] : [])));

t.test('a primary paused past its lease acts on nothing it receives when it wakes, and rejoins as the standby', async (t) => {
  const etcd = await TestEtcd.start(t);
  const nodes = [await startNode(t, etcd), await startNode(t, etcd)];
  let primary: ProcessNode | undefined;
  await eventually(async () => (primary = (await Promise.all(nodes.map(async (n) => ((await status(n))['role'] === 'primary' ? n : undefined)))).find((n) => n)) !== undefined, 30_000, 'a node leads');
  const standby = nodes.find((n) => n !== primary)!;
  await eventually(async () => /in sync/.test((await status(standby))['in_sync_record'] ?? ''), 30_000, 'the standby is in sync, as etcd records');

  const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${primary!.port}`);
  connection.on('error', () => {});
  const closed = new Promise((resolve) => connection.once('close', resolve));
  const ch = await connection.createConfirmChannel();
  ch.on('error', () => {});
  await ch.assertQueue('z', { durable: true });
  for (let i = 0; i < 10; i++) ch.sendToQueue('z', Buffer.from(`before-${i}`), { persistent: true });
  await ch.waitForConfirms();

  primary!.broker.child.kill('SIGSTOP');
  t.teardown(() => void primary!.broker.child.kill('SIGCONT'));
  await eventually(async () => (await status(standby))['role'] === 'primary', LEASE_TTL_SECONDS * 5000, 'the standby takes over');
  // Sent to the paused primary: they wait in its socket until it wakes.
  let confirmedAfterWaking = 0;
  for (let i = 0; i < 50; i++) ch.sendToQueue('z', Buffer.from(`after-${i}`), { persistent: true }, (err) => void (err ? 0 : confirmedAfterWaking++));
  primary!.broker.child.kill('SIGCONT');
  await within(closed, 20_000, 'the woken primary drops its client');
  t.equal(confirmedAfterWaking, 0, 'nothing sent to the zombie was confirmed');
  await waitForLine(primary!.broker, 'failover: leadership lost', 10_000);

  const check = await amqp.connect(`amqp://guest:guest@127.0.0.1:${standby.port}`);
  const probe = await check.createChannel();
  t.equal((await probe.checkQueue('z')).messageCount, 10, 'the new primary holds what was confirmed, and nothing the zombie received');
  await check.close();

  await waitForLine(primary!.broker, 'replication: in sync with the primary', 30_000);
  const old = await status(primary!);
  t.equal(old['role'], 'standby', 'the old primary is now the standby');
  t.match(old['leader'], new RegExp(`^[0-9a-f]{16} \\(amqp 127\\.0\\.0\\.1:${standby.port}, replication `), 'its ctl names the leader');
  t.equal(old['leader_epoch'], '2', 'in the next epoch');
  await eventually(async () => /^standby [0-9a-f]{16} in sync with [0-9a-f]{16} in epoch 2$/.test((await status(primary!))['in_sync_record'] ?? ''), 10_000, 'the in-sync record names it');
  const promote = await runCtl(primary!.dir, 'promote');
  t.not(promote.code, 0, 'promote is refused under etcd');
  t.match(promote.stderr, /automatic failover is on: etcd elects the primary/);
});
