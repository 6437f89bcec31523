import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

export interface User {
  readonly name: string;
  readonly password: string;
  /** RabbitMQ's loopback_users: the default guest account may only connect from this machine. */
  readonly loopbackOnly: boolean;
}

export type AuthResult = { readonly ok: true; readonly user: User } | { readonly ok: false; readonly reason: string };

export class UserStore {
  private readonly users = new Map<string, User>();

  add(user: User): void {
    this.users.set(user.name, user);
  }

  authenticate(username: string, password: string, remoteAddress: string | undefined): AuthResult {
    const user = this.users.get(username);
    if (user === undefined || !samePassword(user.password, password)) {
      return { ok: false, reason: `user '${username}' - invalid credentials` };
    }
    if (user.loopbackOnly && !isLoopback(remoteAddress)) {
      return { ok: false, reason: `user '${username}' can only connect via localhost` };
    }
    return { ok: true, user };
  }
}

function samePassword(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return address === '::1';
}
