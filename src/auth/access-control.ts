import { isIP } from 'node:net';
import type { AccessDefinitions, AccessOp, PermissionDefinition, TopicPermissionDefinition, UserDefinition, UserLimits, VhostLimits } from './access-definitions.js';
import { checkPassword } from './password-hash.js';

export type Permission = 'configure' | 'write' | 'read';

export type AuthResult = { readonly ok: true; readonly user: UserDefinition } | { readonly ok: false; readonly reason: string };

/** A permission's patterns, compiled once. */
interface CompiledPermission {
  readonly definition: PermissionDefinition;
  readonly configure: RegExp | undefined;
  readonly write: RegExp | undefined;
  readonly read: RegExp | undefined;
}

interface CompiledTopicPermission {
  readonly definition: TopicPermissionDefinition;
  readonly write: string;
  readonly read: string;
}

/**
 * Who may log in, into which vhosts, and what they may do there: RabbitMQ's
 * internal authentication and authorisation backend. Patterns are regular
 * expressions searched anywhere in a name (anchor them with ^ and $), and
 * the empty pattern matches nothing, as in RabbitMQ.
 */
export class AccessControl {
  private readonly users = new Map<string, UserDefinition>();
  /** By vhost, then user. */
  private readonly permissions = new Map<string, Map<string, CompiledPermission>>();
  /** By vhost and user ("vhost\0user"), then exchange. */
  private readonly topicPermissions = new Map<string, Map<string, CompiledTopicPermission>>();
  private readonly vhostLimits = new Map<string, VhostLimits>();
  private readonly userLimits = new Map<string, UserLimits>();
  /** Moves with every change: a permission a channel checked and remembered is stale once it has moved. */
  generation = 0;

  /** `loopbackUsers`: users who may log in only from this machine (RabbitMQ's loopback_users, guest by default). */
  constructor(private readonly loopbackUsers: ReadonlySet<string>) {}

  authenticate(username: string, password: string, remoteAddress: string | undefined): AuthResult {
    const user = this.users.get(username);
    if (user === undefined || !checkPassword(user.passwordHash, user.hashingAlgorithm, password)) {
      return { ok: false, reason: `user '${username}' - invalid credentials` };
    }
    if (this.loopbackUsers.has(username) && !isLoopback(remoteAddress)) {
      return { ok: false, reason: `user '${username}' can only connect via localhost` };
    }
    return { ok: true, user };
  }

  /** EXTERNAL: the user named by a verified client certificate logs in with no password, if they exist. */
  authenticateExternal(username: string, remoteAddress: string | undefined): AuthResult {
    const user = this.users.get(username);
    if (user === undefined) return { ok: false, reason: `user '${username}' (from the client certificate) - no such user` };
    if (this.loopbackUsers.has(username) && !isLoopback(remoteAddress)) {
      return { ok: false, reason: `user '${username}' can only connect via localhost` };
    }
    return { ok: true, user };
  }

  user(name: string): UserDefinition | undefined {
    return this.users.get(name);
  }

  get userList(): readonly UserDefinition[] {
    return [...this.users.values()];
  }

  /** A user may open a connection to a vhost where they have a permission entry, whatever its patterns. */
  mayAccessVhost(user: string, vhost: string): boolean {
    return this.permissions.get(vhost)?.has(user) === true;
  }

  permitted(user: string, vhost: string, permission: Permission, name: string): boolean {
    const pattern = this.permissions.get(vhost)?.get(user)?.[permission];
    return pattern !== undefined && pattern.test(name);
  }

  /**
   * Whether a routing key may be used on a topic exchange: published with
   * (write) or bound with (read). With no topic permission for the exchange,
   * any key may, as in RabbitMQ.
   */
  topicPermitted(user: string, vhost: string, exchange: string, permission: 'write' | 'read', routingKey: string): boolean {
    const topic = this.topicPermissions.get(`${vhost}\0${user}`)?.get(exchange);
    if (topic === undefined) return true;
    const source = topic[permission];
    if (source === '') return false;
    // {username} and {vhost} in a pattern stand for the user's own name and the vhost, as RabbitMQ expands them.
    return new RegExp(source.replaceAll('{username}', escapeRegExp(user)).replaceAll('{vhost}', escapeRegExp(vhost))).test(routingKey);
  }

  /** Permissions in a vhost, or of a user, or all. */
  permissionList(filter: { vhost?: string; user?: string } = {}): PermissionDefinition[] {
    const list: PermissionDefinition[] = [];
    for (const [vhost, byUser] of this.permissions) {
      if (filter.vhost !== undefined && vhost !== filter.vhost) continue;
      for (const [user, p] of byUser) if (filter.user === undefined || user === filter.user) list.push(p.definition);
    }
    return list;
  }

  topicPermissionList(): TopicPermissionDefinition[] {
    return [...this.topicPermissions.values()].flatMap((byExchange) => [...byExchange.values()].map((p) => p.definition));
  }

  vhostLimit(vhost: string, limit: keyof VhostLimits): number | undefined {
    return this.vhostLimits.get(vhost)?.[limit];
  }

  userLimit(user: string, limit: keyof UserLimits): number | undefined {
    return this.userLimits.get(user)?.[limit];
  }

  vhostLimitList(): { vhost: string; limits: VhostLimits }[] {
    return [...this.vhostLimits].map(([vhost, limits]) => ({ vhost, limits }));
  }

  userLimitList(): { user: string; limits: UserLimits }[] {
    return [...this.userLimits].map(([user, limits]) => ({ user, limits }));
  }

  /** Applies a change of users or permissions (vhost operations: only what they do to permissions). Idempotent, for recovery. */
  apply(op: AccessOp): void {
    this.generation++;
    switch (op.op) {
      case 'vhost.added':
        return;
      case 'vhost.deleted':
        this.permissions.delete(op.name);
        this.vhostLimits.delete(op.name);
        for (const key of this.topicPermissions.keys()) if (key.startsWith(`${op.name}\0`)) this.topicPermissions.delete(key);
        return;
      case 'user.put':
        this.users.set(op.user.name, op.user);
        return;
      case 'user.deleted':
        this.users.delete(op.name);
        this.userLimits.delete(op.name);
        for (const byUser of this.permissions.values()) byUser.delete(op.name);
        for (const key of this.topicPermissions.keys()) if (key.endsWith(`\0${op.name}`)) this.topicPermissions.delete(key);
        return;
      case 'permission.set': {
        const p = op.permission;
        let byUser = this.permissions.get(p.vhost);
        if (byUser === undefined) this.permissions.set(p.vhost, (byUser = new Map()));
        byUser.set(p.user, { definition: p, configure: compile(p.configure), write: compile(p.write), read: compile(p.read) });
        return;
      }
      case 'permission.cleared':
        this.permissions.get(op.vhost)?.delete(op.user);
        return;
      case 'topic-permission.set': {
        const p = op.permission;
        const key = `${p.vhost}\0${p.user}`;
        let byExchange = this.topicPermissions.get(key);
        if (byExchange === undefined) this.topicPermissions.set(key, (byExchange = new Map()));
        byExchange.set(p.exchange, { definition: p, write: p.write, read: p.read });
        return;
      }
      case 'topic-permission.cleared':
        this.topicPermissions.get(`${op.vhost}\0${op.user}`)?.delete(op.exchange);
        return;
      case 'vhost.limits':
        setOrDelete(this.vhostLimits, op.vhost, op.limits);
        return;
      case 'user.limits':
        setOrDelete(this.userLimits, op.user, op.limits);
        return;
    }
  }

  restore(a: AccessDefinitions): void {
    for (const user of a.users) this.apply({ op: 'user.put', user });
    for (const permission of a.permissions) this.apply({ op: 'permission.set', permission });
    for (const permission of a.topicPermissions) this.apply({ op: 'topic-permission.set', permission });
    for (const { vhost, limits } of a.vhostLimits) this.apply({ op: 'vhost.limits', vhost, limits });
    for (const { user, limits } of a.userLimits) this.apply({ op: 'user.limits', user, limits });
  }
}

/** No limit left: the entry goes. */
function setOrDelete<T extends object>(map: Map<string, T>, key: string, limits: T): void {
  if (Object.keys(limits).length === 0) map.delete(key);
  else map.set(key, limits);
}

/** RabbitMQ reads an empty pattern as "nothing", not as the empty regular expression (which matches everything). */
function compile(pattern: string): RegExp | undefined {
  return pattern === '' ? undefined : new RegExp(pattern);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return address === '::1';
}
