/**
 * `npm run conformance [-- --against <amqp-url>]`: runs each conformance suite
 * against this broker, started here on a free loopback port with a fresh data
 * directory for every suite, and with --against also against another broker,
 * side by side. A suite is an executable that takes the AMQP URL and prints
 * "N passed, N failed" as its last line. The last line here is the total for
 * this broker, in the same form.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { makeCertificates } from '../test/support/certificates.js';

/** This file runs as dist/conformance/run.js. */
const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** The clients whose libraries take an amqps URL and a CA from the environment. */
const TLS_CLIENTS = ['python-pika', 'ruby-bunny', 'node-amqplib', 'node-amqp-client', 'go-amqp091', 'python-amqp'];

/**
 * `tls`: the suite runs over amqps, as a user of its own in a vhost of its
 * own (made with the ctl tool), trusting a CA made for the run (the clients
 * read SSL_CERT_FILE, or NODE_EXTRA_CA_CERTS); `clients`: which of run-all.sh's.
 */
const SUITES: readonly { name: string; script: string; tls?: boolean; clients?: readonly string[] }[] = [
  { name: 'amqp091-go', script: 'conformance/amqp091-go/run.sh' },
  { name: 'spec rules', script: 'conformance/rules/run.sh' },
  { name: 'clients', script: 'conformance/clients/run-all.sh' },
  { name: 'clients over amqps, own vhost', script: 'conformance/clients/run-all.sh', tls: true, clients: TLS_CLIENTS },
];
function mkdirAt(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

const SUITE_TIMEOUT_MS = Number(process.env['SUITE_TIMEOUT'] ?? 1200) * 1000;
const SUMMARY = /^(\d+) passed, (\d+) failed$/;
/** Extra figures a suite may report, shown next to its counts (the rules suite's coverage). */
const COVERAGE = /^rules covered \d+\/\d+/;

interface Outcome {
  readonly passed: number;
  readonly failed: number;
  readonly note: string;
}

interface LocalBroker {
  readonly url: string;
  /** What the suite's clients need in their environment: the CA to trust, for amqps. */
  readonly env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/** The user and vhost the amqps suite runs as. */
const TLS_VHOST = 'conformance';
const TLS_USER = 'conformance';
const TLS_PASSWORD = 'tls-round-trip';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Our broker as a child process; its log goes to a file, shown only if it dies. */
async function startBroker(tls: boolean): Promise<LocalBroker> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'conformance-broker-'));
  const logFile = join(dir, 'broker.log');
  const log = createWriteStream(logFile);
  const dataDir = join(dir, 'data');
  const args = ['dist/src/cli/main.js', '--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir];
  const tlsPort = tls ? await freePort() : undefined;
  const certs = tls ? makeCertificates(mkdirAt(join(dir, 'certs'))) : undefined;
  if (certs !== undefined) args.push('--tls-port', String(tlsPort), '--tls-cert', certs.serverCert, '--tls-key', certs.serverKey);
  const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const logTail = (): string => readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
  const deadline = Date.now() + 30_000;
  while (!(await acceptsConnections(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the broker did not start:\n${logTail()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (certs !== undefined) {
    for (const words of [['add_vhost', TLS_VHOST], ['add_user', TLS_USER, TLS_PASSWORD], ['set_permissions', '-p', TLS_VHOST, TLS_USER, '.*', '.*', '.*']]) {
      execFileSync(process.execPath, ['dist/src/cli/ctl.js', '--data-dir', dataDir, ...words], { cwd: REPO, stdio: 'pipe' });
    }
  }
  return {
    url: certs === undefined ? `amqp://guest:guest@127.0.0.1:${port}` : `amqps://${TLS_USER}:${TLS_PASSWORD}@127.0.0.1:${tlsPort}/${TLS_VHOST}`,
    env: certs === undefined ? {} : { SSL_CERT_FILE: certs.caFile, NODE_EXTRA_CA_CERTS: certs.caFile },
    async stop() {
      if (child.exitCode !== null) console.log(`the broker had exited (status ${child.exitCode}); its last log lines:\n${logTail()}`);
      child.kill('SIGTERM');
      if (!(await exited(child, 10_000))) child.kill('SIGKILL');
      await exited(child, 5_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs one suite, echoing its output, and reads its last line. */
async function runSuite(script: string, url: string, extra: { env?: NodeJS.ProcessEnv; clients?: readonly string[] | undefined } = {}): Promise<Outcome> {
  const env = { ...process.env, ...extra.env };
  const child = spawn('bash', [join(REPO, script), url, ...(extra.clients ?? [])], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stderr.pipe(process.stderr);
  let last = '';
  let coverage = '';
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    console.log(`  ${line}`);
    if (line.trim() !== '') last = line.trim();
    if (COVERAGE.test(line.trim())) coverage = line.trim();
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    // The suite runs in its own process group (detached): end it with everything it started.
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  }, SUITE_TIMEOUT_MS);
  const status = await new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  clearTimeout(timer);
  if (timedOut) return { passed: 0, failed: 1, note: `timed out after ${SUITE_TIMEOUT_MS / 1000} s` };
  const summary = SUMMARY.exec(last);
  if (summary === null) return { passed: 0, failed: 1, note: `no "N passed, N failed" line (exit status ${status})` };
  return { passed: Number(summary[1]), failed: Number(summary[2]), note: coverage };
}

async function runAgainstOurs(suite: (typeof SUITES)[number]): Promise<Outcome> {
  const broker = await startBroker(suite.tls === true);
  try {
    console.log(`== against this broker (${broker.url})`);
    return await runSuite(suite.script, broker.url, { env: broker.env, clients: suite.clients });
  } finally {
    await broker.stop();
  }
}

const counts = (o: Outcome): string => `${o.passed} passed, ${o.failed} failed`;
const total = (outcomes: readonly Outcome[]): Outcome => ({
  passed: outcomes.reduce((n, o) => n + o.passed, 0),
  failed: outcomes.reduce((n, o) => n + o.failed, 0),
  note: '',
});

async function main(): Promise<void> {
  const at = process.argv.indexOf('--against');
  const against = at === -1 ? undefined : process.argv[at + 1];
  if (at !== -1 && against === undefined) throw new Error('usage: run.js [--against <amqp-url>]');

  const rows: { name: string; ours: Outcome; theirs?: Outcome }[] = [];
  for (const suite of SUITES) {
    console.log(`\n### ${suite.name} (${suite.script})`);
    if (!existsSync(join(REPO, suite.script))) {
      console.log(`  not run: ${suite.script} does not exist yet`);
      continue;
    }
    const ours = await runAgainstOurs(suite);
    // Another broker's amqps listener and users are its own: the amqps suite runs against this one only.
    if (against === undefined || suite.tls === true) {
      rows.push({ name: suite.name, ours });
      continue;
    }
    console.log(`== against ${against}`);
    rows.push({ name: suite.name, ours, theirs: await runSuite(suite.script, against) });
  }

  const ours = total(rows.map((r) => r.ours));
  const table = [['suite', 'this broker', ...(against === undefined ? [] : [against])]];
  for (const r of rows) table.push([r.name, `${counts(r.ours)} ${r.ours.note}`.trim(), ...(r.theirs ? [`${counts(r.theirs)} ${r.theirs.note}`.trim()] : [])]);
  table.push(['total', counts(ours), ...(against === undefined ? [] : [counts(total(rows.map((r) => r.theirs!)))])]);
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  console.log('\n### conformance summary');
  for (const row of table) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('   ').trimEnd());
  console.log(counts(ours));
  process.exitCode = ours.failed === 0 ? 0 : 1;
}

main().catch((err: unknown) => {
  console.log(`conformance runner failed: ${(err as Error).message}`);
  console.log('0 passed, 1 failed');
  process.exitCode = 1;
});
