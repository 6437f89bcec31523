import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where the cleanup goes: a tap test, or a benchmark's own list. */
export interface Teardown {
  teardown(fn: () => unknown): void;
}
import { delay } from './broker.js';
import { ensureDebianPackage } from './debian-package.js';
import { freePorts } from './tcp-proxy.js';

/** One etcd process: its name, loopback ports and data directory. */
interface Member {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  child: ChildProcess | undefined;
}

/**
 * An etcd from Debian's etcd-server package (one member, or a cluster of
 * several), on loopback ports of its own with a temporary data directory,
 * for tests (and the replication benchmark) of automatic failover. A member can be killed (SIGKILL) and
 * started again on the same directory and ports; the test's teardown ends
 * each by its PID.
 */
export class TestEtcd {
  private constructor(
    private readonly dir: string,
    private readonly members: readonly Member[],
  ) {}

  /** Installs etcd-server when missing; throws when it cannot be had. */
  static async start(t: Teardown, size = 1): Promise<TestEtcd> {
    const missing = ensureDebianPackage('etcd-server');
    if (missing !== undefined) throw new Error(`etcd is needed: ${missing}`);
    const dir = mkdtempSync(join(tmpdir(), 'etcd-'));
    const ports = await freePorts(2 * size);
    const members = Array.from({ length: size }, (_, i) => ({ name: `m${i}`, clientPort: ports[2 * i]!, peerPort: ports[2 * i + 1]!, child: undefined }));
    const etcd = new TestEtcd(dir, members);
    t.teardown(async () => {
      await Promise.all(members.map((_, i) => etcd.kill(i)));
      rmSync(dir, { recursive: true, force: true });
    });
    await Promise.all(members.map((_, i) => etcd.restart(i)));
    return etcd;
  }

  /** The first member's client port. */
  get clientPort(): number {
    return this.members[0]!.clientPort;
  }

  /** The first member's client URL. */
  get url(): string {
    return this.urls[0]!;
  }

  get urls(): string[] {
    return this.members.map((m) => `http://127.0.0.1:${m.clientPort}`);
  }

  /** Starts a member (again), resolving once it answers its health check (a cluster: once it has a leader). */
  async restart(index = 0): Promise<void> {
    const member = this.members[index]!;
    if (member.child !== undefined) throw new Error(`etcd ${member.name} is running already`);
    const peer = (m: Member): string => `http://127.0.0.1:${m.peerPort}`;
    const url = this.urls[index]!;
    const log = openSync(join(this.dir, `${member.name}.log`), 'a');
    // prettier-ignore
    const child = spawn('etcd', [
      '--name', member.name, '--data-dir', join(this.dir, member.name),
      '--listen-client-urls', url, '--advertise-client-urls', url,
      '--listen-peer-urls', peer(member), '--initial-advertise-peer-urls', peer(member),
      '--initial-cluster', this.members.map((m) => `${m.name}=${peer(m)}`).join(','),
    ], { stdio: ['ignore', log, log] });
    member.child = child;
    child.once('exit', () => {
      if (member.child === child) member.child = undefined;
    });
    for (let i = 0; i < 300; i++) {
      if (await healthy(url)) return;
      if (member.child === undefined) throw new Error(`etcd ${member.name} exited at start; see ${join(this.dir, `${member.name}.log`)}`);
      await delay(100);
    }
    throw new Error(`etcd ${member.name} did not become healthy within 30 s`);
  }

  /** SIGKILL, and waits for the exit. */
  async kill(index = 0): Promise<void> {
    const child = this.members[index]!.child;
    if (child === undefined) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    return response.ok && ((await response.json()) as { health?: string }).health === 'true';
  } catch {
    return false;
  }
}
