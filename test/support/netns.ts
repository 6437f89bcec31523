import { execFile, execFileSync } from 'node:child_process';
import type { Test } from 'tap';

export interface Netns {
  /** The address of this (the root) namespace's end of the link: a broker bound here is reached from the other end. */
  readonly hostAddress: string;
  /** The other end's address, as the broker sees its clients. */
  readonly peerAddress: string;
  /** Runs a command inside the namespace. */
  run(command: string, args: readonly string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }>;
}

/**
 * A network namespace linked to this one by a veth pair on a /30 of its
 * own, removed when the test ends: a second host on the same machine.
 * Returns why it could not make one (it needs root and iproute2).
 */
export function createNetns(t: Test): Netns | { cannot: string } {
  if (process.getuid?.() !== 0) return { cannot: 'creating a network namespace needs root' };
  // Names and addresses from the PID, so parallel test processes do not collide.
  const id = process.pid % 16_000;
  const name = `amqpt${id}`;
  const hostSide = `amqh${id}`;
  const [a, b] = [Math.floor(id / 64) % 250, (id % 64) * 4];
  const hostAddress = `10.${213}.${a}.${b + 1}`;
  const peerAddress = `10.${213}.${a}.${b + 2}`;
  const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: 'pipe' });
  try {
    ip('netns', 'add', name);
  } catch (err) {
    return { cannot: `ip netns add failed: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}` };
  }
  t.teardown(() => {
    try {
      ip('link', 'del', hostSide);
    } catch {
      // Gone with the namespace already.
    }
    ip('netns', 'del', name);
  });
  ip('link', 'add', hostSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name);
  ip('addr', 'add', `${hostAddress}/30`, 'dev', hostSide);
  ip('link', 'set', hostSide, 'up');
  ip('netns', 'exec', name, 'ip', 'addr', 'add', `${peerAddress}/30`, 'dev', 'eth0');
  ip('netns', 'exec', name, 'ip', 'link', 'set', 'eth0', 'up');
  ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
  return {
    hostAddress,
    peerAddress,
    run: (command, args, timeoutMs) =>
      new Promise((resolve) => {
        execFile('ip', ['netns', 'exec', name, command, ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
          resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
        });
      }),
  };
}
