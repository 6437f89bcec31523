import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as amqp from 'amqplib';
import t from 'tap';
import { parseCliOptions } from '../../src/cli/options.js';
import { cli, startCli } from '../support/cli-process.js';

t.test('the command-line broker serves clients and exits cleanly on SIGTERM', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cli-test-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const { child, port } = await startCli(t, ['--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir]);
  t.ok(port > 0, 'it logs the port it listens on');
  const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
  const channel = await connection.createChannel();
  const { queue } = await channel.assertQueue('', { exclusive: true });
  channel.sendToQueue(queue, Buffer.from('ping'));
  await new Promise((r) => setTimeout(r, 50));
  const got = await channel.get(queue, { noAck: true });
  t.equal(got && got.content.toString(), 'ping');
  const closedByBroker = new Promise<Error>((resolve) => connection.once('close', resolve));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  t.match(String(await closedByBroker), /CONNECTION_FORCED/, 'clients are told the broker is shutting down');
  t.equal(await exited, 0);
});

t.test('--help lists the options', async (t) => {
  const child = spawn(process.execPath, [cli, '--help'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise((resolve) => child.once('exit', resolve));
  for (const flag of ['--port', '--host', '--data-dir', '--log-level', '--memory-high-watermark', '--disk-free-limit']) t.match(out, flag);
});

t.test('flags win over environment variables, which win over defaults', async (t) => {
  t.equal(parseCliOptions([], {}).port, 5672);
  t.equal(parseCliOptions([], { AMQP_BROKER_PORT: '6000' }).port, 6000);
  t.equal(parseCliOptions(['--port', '7000'], { AMQP_BROKER_PORT: '6000' }).port, 7000);
  t.match(parseCliOptions([], {}).dataDir, /\/data$/);
  t.equal(parseCliOptions([], { AMQP_BROKER_LOG_LEVEL: 'debug' }).logLevel, 'debug');
  t.throws(() => parseCliOptions(['--port', 'x'], {}), /invalid port/);
  t.throws(() => parseCliOptions(['--log-level', 'loud'], {}), /invalid log level/);
  t.throws(() => parseCliOptions(['--bogus'], {}));
});

t.test('--memory-high-watermark is a share up to 1, else bytes; --disk-free-limit takes units', async (t) => {
  t.same(parseCliOptions(['--memory-high-watermark', '0.6'], {}).memoryHighWatermark, 0.6, 'relative');
  t.same(parseCliOptions(['--memory-high-watermark', '1'], {}).memoryHighWatermark, 1, '1 is still a share');
  t.equal(parseCliOptions(['--memory-high-watermark', '1GB'], {}).memoryLimit, 1e9, 'absolute with a unit');
  t.equal(parseCliOptions([], { AMQP_BROKER_MEMORY_HIGH_WATERMARK: '512MiB' }).memoryLimit, 512 * 1024 ** 2);
  t.equal(parseCliOptions(['--memory-high-watermark', '800000000'], {}).memoryLimit, 800_000_000, 'an integer above 1 is bytes');
  const defaults = parseCliOptions([], {});
  t.equal(defaults.memoryHighWatermark, undefined, 'unset: the broker default applies');
  t.equal(defaults.memoryLimit, undefined);
  t.throws(() => parseCliOptions(['--memory-high-watermark', '1.5'], {}), /invalid memory high watermark/);
  t.throws(() => parseCliOptions(['--memory-high-watermark', 'lots'], {}), /invalid memory high watermark/);

  t.equal(defaults.diskFreeLimit, 50_000_000, "RabbitMQ's default, 50 MB");
  t.equal(parseCliOptions(['--disk-free-limit', '2GiB'], {}).diskFreeLimit, 2 * 1024 ** 3);
  t.equal(parseCliOptions(['--disk-free-limit', '1GB'], { AMQP_BROKER_DISK_FREE_LIMIT: '5' }).diskFreeLimit, 1e9, 'the flag wins');
  t.equal(parseCliOptions([], { AMQP_BROKER_DISK_FREE_LIMIT: '123456' }).diskFreeLimit, 123_456);
  t.throws(() => parseCliOptions(['--disk-free-limit', '0.5'], {}), /invalid disk free limit/);
});

t.test('replication flags: off unless a port or a primary is given; the secret required; each flag checked', async (t) => {
  t.equal(parseCliOptions([], {}).replication, undefined, 'no replication by default');
  t.throws(() => parseCliOptions(['--replication-port', '0'], {}), /needs the cluster secret/);
  t.same(parseCliOptions(['--replication-port', '0', '--cluster-secret', 's'], {}).replication, { port: 0, standbyOf: undefined, secret: 's', policy: 'hold', timeoutMs: 5000 });
  const standby = parseCliOptions(['--standby-of', '[::1]:25672', '--replication-policy', 'alone', '--replication-timeout', '1500'], { AMQP_BROKER_CLUSTER_SECRET: 'e' });
  t.same(standby.replication, { port: 25672, standbyOf: { host: '::1', port: 25672 }, secret: 'e', policy: 'alone', timeoutMs: 1500 }, 'a standby, its port defaulting to 25672');
  const secretFile = join(mkdtempSync(join(tmpdir(), 'cli-secret-')), 'secret');
  writeFileSync(secretFile, 'from a file\n');
  t.teardown(() => rmSync(join(secretFile, '..'), { recursive: true, force: true }));
  t.equal(parseCliOptions(['--replication-port', '0', '--cluster-secret-file', secretFile], {}).replication?.secret, 'from a file', 'the secret file, trimmed');
  const base = ['--replication-port', '0', '--cluster-secret', 's'];
  t.throws(() => parseCliOptions([...base, '--standby-of', 'nowhere'], {}), /invalid --standby-of/);
  t.throws(() => parseCliOptions([...base, '--replication-policy', 'maybe'], {}), /invalid --replication-policy/);
  t.throws(() => parseCliOptions([...base, '--replication-timeout', '50'], {}), /at least 100/);
  t.throws(() => parseCliOptions(['--replication-port', '70000', '--cluster-secret', 's'], {}), /invalid replication port/);
});

t.test('failover flags: --etcd turns replication on with confirming alone recorded in etcd by default; each flag checked', async (t) => {
  const secret = ['--cluster-secret', 's'];
  t.same(parseCliOptions(['--etcd', 'http://127.0.0.1:2379', ...secret], {}).replication, {
    port: 25672,
    standbyOf: undefined,
    secret: 's',
    policy: 'alone',
    timeoutMs: 5000,
    arbiter: { etcd: ['http://127.0.0.1:2379'], prefix: '/amqp-broker/', leaseTtlSeconds: 5, advertise: { amqp: undefined, replication: undefined } },
  });
  const env = { AMQP_BROKER_ETCD: 'http://e1:2379,http://e2:2379', AMQP_BROKER_LEASE_TTL: '3', AMQP_BROKER_CLUSTER_SECRET: 's' };
  const fromEnv = parseCliOptions(['--etcd-prefix', '/orders/', '--advertise-replication', 'proxy:30000', '--replication-policy', 'hold'], env).replication;
  t.same(fromEnv?.arbiter, { etcd: ['http://e1:2379', 'http://e2:2379'], prefix: '/orders/', leaseTtlSeconds: 3, advertise: { amqp: undefined, replication: 'proxy:30000' } }, 'three members, a prefix, an advertised address');
  t.equal(fromEnv?.policy, 'hold', 'hold, when asked for');
  t.throws(() => parseCliOptions(['--etcd', 'http://e:2379', '--standby-of', 'a:1', ...secret], {}), /--standby-of and --etcd do not go together/);
  t.throws(() => parseCliOptions(['--etcd', 'e:2379', ...secret], {}), /invalid etcd URL 'e:2379'/);
  t.throws(() => parseCliOptions(['--etcd', 'http://e:2379', '--lease-ttl', '1', ...secret], {}), /at least 2/);
  t.throws(() => parseCliOptions(['--etcd', 'http://e:2379', '--advertise-amqp', 'nowhere', ...secret], {}), /invalid --advertise-amqp/);
  t.throws(() => parseCliOptions(['--etcd', 'http://e:2379'], {}), /needs the cluster secret/);
});
