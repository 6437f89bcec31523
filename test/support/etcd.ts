import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { delay } from './broker.js';
import { ensureDebianPackage } from './debian-package.js';
import { freePorts } from './tcp-proxy.js';

/**
 * A single-member etcd from Debian's etcd-server package, on loopback ports
 * of its own with a temporary data directory, for tests of automatic
 * failover. It can be killed (SIGKILL) and started again on the same
 * directory and ports; the test's teardown ends it by its PID.
 */
export class TestEtcd {
  private child: ChildProcess | undefined;

  private constructor(
    private readonly dir: string,
    readonly clientPort: number,
    private readonly peerPort: number,
  ) {}

  /** Installs etcd-server when missing; throws when it cannot be had. */
  static async start(t: Test): Promise<TestEtcd> {
    const missing = ensureDebianPackage('etcd-server');
    if (missing !== undefined) throw new Error(`etcd is needed: ${missing}`);
    const dir = mkdtempSync(join(tmpdir(), 'etcd-'));
    const [clientPort, peerPort] = await freePorts(2);
    const etcd = new TestEtcd(dir, clientPort!, peerPort!);
    t.teardown(async () => {
      await etcd.kill();
      rmSync(dir, { recursive: true, force: true });
    });
    await etcd.restart();
    return etcd;
  }

  get url(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts etcd (again), resolving once it answers its health check. */
  async restart(): Promise<void> {
    if (this.child !== undefined) throw new Error('etcd is running already');
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const log = openSync(join(this.dir, 'etcd.log'), 'a');
    // prettier-ignore
    this.child = spawn('etcd', [
      '--name', 'test', '--data-dir', join(this.dir, 'data'),
      '--listen-client-urls', this.url, '--advertise-client-urls', this.url,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `test=${peer}`,
    ], { stdio: ['ignore', log, log] });
    const child = this.child;
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    for (let i = 0; i < 300; i++) {
      if (await this.healthy()) return;
      if (this.child === undefined) throw new Error(`etcd exited at start; see ${join(this.dir, 'etcd.log')}`);
      await delay(100);
    }
    throw new Error('etcd did not become healthy within 30 s');
  }

  /** SIGKILL, and waits for the exit. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  private async healthy(): Promise<boolean> {
    try {
      const response = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(1000) });
      return response.ok && ((await response.json()) as { health?: string }).health === 'true';
    } catch {
      return false;
    }
  }
}
