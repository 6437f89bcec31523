import { spawnSync } from 'node:child_process';

/**
 * Makes sure a Debian package is installed, installing it when missing (the
 * tests run as root on the project's machines). Returns a reason when it
 * cannot be had, for the test to skip with.
 */
export function ensureDebianPackage(name: string): string | undefined {
  if (spawnSync('dpkg', ['-s', name], { stdio: 'ignore' }).status === 0) return undefined;
  if (process.getuid?.() !== 0) return `${name} is not installed and installing it needs root (apt-get install ${name})`;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let result = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', name], { env, encoding: 'utf8', timeout: 300_000 });
  if (result.status !== 0) {
    spawnSync('apt-get', ['update'], { env, stdio: 'ignore', timeout: 300_000 });
    result = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', name], { env, encoding: 'utf8', timeout: 300_000 });
  }
  return result.status === 0 ? undefined : `apt-get install ${name} failed: ${result.stderr.slice(-300)}`;
}
