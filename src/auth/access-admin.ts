import type { AccessOp, PermissionDefinition, TopicPermissionDefinition, UserDefinition, UserLimits, VhostLimits } from './access-definitions.js';
import { DEFAULT_HASHING, hashPassword } from './password-hash.js';
import type { Tenancy } from './tenancy.js';

/** Where access changes are made durable: the store's journal. */
export interface AccessRecorder {
  recordAccess(op: AccessOp): Promise<void>;
}

/** How the admin reaches open connections: closes those `which` picks, with 320 CONNECTION_FORCED and `reason`. */
export type CloseConnections = (which: (c: { readonly userName: string; readonly vhostName: string | undefined }) => boolean, reason: string) => void;

/** A refused administrative request (no such user, an invalid pattern): the caller's mistake, not a failure. */
export class AccessAdminError extends Error {
  override readonly name = 'AccessAdminError';
}

export interface PermissionPatterns {
  readonly configure: string;
  readonly write: string;
  readonly read: string;
}

/**
 * What rabbitmqctl does to users, vhosts and permissions, for the
 * embedded API and the ctl tool. Changes run one at a time; each takes
 * effect at once and resolves once it is on disk; if the disk refuses it,
 * it is taken back (a deletion stays done) and the promise rejects. One at
 * a time, so that taking one back never undoes a later one.
 */
export class AccessAdmin {
  /** The change in progress: the next waits for it. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly tenancy: Tenancy,
    private readonly recorder: () => AccessRecorder,
    private readonly closeConnections: CloseConnections,
  ) {}

  addUser(name: string, password: string, tags: readonly string[] = []): Promise<void> {
    return this.serially(async () => {
      if (name === '') throw new AccessAdminError('a user name cannot be empty');
      if (this.tenancy.access.user(name) !== undefined) throw new AccessAdminError(`user '${name}' already exists`);
      await this.change({ op: 'user.put', user: newUser(name, password, tags) });
    });
  }

  changePassword(name: string, password: string): Promise<void> {
    return this.changeUser(name, () => ({ passwordHash: hashPassword(password), hashingAlgorithm: DEFAULT_HASHING }));
  }

  /** Leaves the user unable to log in with any password (rabbitmqctl clear_password). */
  clearPassword(name: string): Promise<void> {
    return this.changeUser(name, () => ({ passwordHash: '' }));
  }

  setUserTags(name: string, tags: readonly string[]): Promise<void> {
    return this.changeUser(name, () => ({ tags: [...tags] }));
  }

  /** Imports a user as a RabbitMQ definitions file has it, with its password hash. */
  putUser(user: UserDefinition): Promise<void> {
    return this.serially(() => this.change({ op: 'user.put', user }));
  }

  deleteUser(name: string): Promise<void> {
    return this.serially(async () => {
      this.existingUser(name);
      this.closeConnections((c) => c.userName === name, `user '${name}' is deleted`);
      await this.change({ op: 'user.deleted', name });
    });
  }

  addVhost(name: string): Promise<void> {
    return this.serially(async () => {
      if (name === '') throw new AccessAdminError('a vhost name cannot be empty');
      if (this.tenancy.vhosts.has(name)) throw new AccessAdminError(`vhost '${name}' already exists`);
      await this.change({ op: 'vhost.added', name });
    });
  }

  /** Closes the vhost's connections, deletes its queues (and their messages) and exchanges, then the vhost and its permissions. */
  deleteVhost(name: string): Promise<void> {
    return this.serially(async () => {
      const vhost = this.tenancy.vhosts.get(name);
      if (vhost === undefined) throw new AccessAdminError(`vhost '${name}' does not exist`);
      const recorder = this.recorder();
      this.closeConnections((c) => c.vhostName === name, `vhost '${name}' is down`);
      vhost.deleteEverything();
      await this.change({ op: 'vhost.deleted', name }, recorder);
    });
  }

  setPermissions(user: string, vhost: string, patterns: PermissionPatterns): Promise<void> {
    return this.serially(async () => {
      this.existingUser(user);
      this.existingVhost(vhost);
      const permission: PermissionDefinition = { user, vhost, configure: pattern(patterns.configure), write: pattern(patterns.write), read: pattern(patterns.read) };
      await this.change({ op: 'permission.set', permission });
    });
  }

  clearPermissions(user: string, vhost: string): Promise<void> {
    return this.serially(async () => {
      this.existingUser(user);
      this.existingVhost(vhost);
      await this.change({ op: 'permission.cleared', user, vhost });
    });
  }

  setTopicPermissions(user: string, vhost: string, exchange: string, patterns: { readonly write: string; readonly read: string }): Promise<void> {
    return this.serially(async () => {
      this.existingUser(user);
      this.existingVhost(vhost);
      const permission: TopicPermissionDefinition = { user, vhost, exchange, write: pattern(patterns.write), read: pattern(patterns.read) };
      await this.change({ op: 'topic-permission.set', permission });
    });
  }

  /** One exchange's topic permissions, or (no exchange) all of the user's in the vhost. */
  clearTopicPermissions(user: string, vhost: string, exchange?: string): Promise<void> {
    return this.serially(async () => {
      this.existingUser(user);
      this.existingVhost(vhost);
      const cleared = this.tenancy.access
        .topicPermissionList()
        .filter((p) => p.user === user && p.vhost === vhost && (exchange === undefined || p.exchange === exchange));
      for (const p of cleared) await this.change({ op: 'topic-permission.cleared', user, vhost, exchange: p.exchange });
    });
  }

  /** RabbitMQ's set_vhost_limits: the limits given replace the vhost's; a negative one means none. */
  setVhostLimits(vhost: string, limits: Record<string, unknown>): Promise<void> {
    return this.serially(async () => {
      this.existingVhost(vhost);
      await this.change({ op: 'vhost.limits', vhost, limits: parseLimits(limits, ['max-connections', 'max-queues']) });
    });
  }

  /** RabbitMQ's set_user_limits: merged into the user's limits; a negative one means none. */
  setUserLimits(user: string, limits: Record<string, unknown>): Promise<void> {
    return this.serially(async () => {
      this.existingUser(user);
      const current = this.tenancy.access.userLimitList().find((l) => l.user === user)?.limits ?? {};
      const merged = { ...current, ...parseLimits(limits, ['max-connections', 'max-channels']) };
      await this.change({ op: 'user.limits', user, limits: withoutNegative(merged) });
    });
  }

  /** One limit by name, or all of them. */
  clearUserLimits(user: string, limit: 'max-connections' | 'max-channels' | 'all'): Promise<void> {
    return this.serially(async () => {
      this.existingUser(user);
      const current = this.tenancy.access.userLimitList().find((l) => l.user === user)?.limits ?? {};
      const { [limit as 'max-connections']: _cleared, ...rest } = current;
      await this.change({ op: 'user.limits', user, limits: limit === 'all' ? {} : rest });
    });
  }

  listVhostLimits(): { vhost: string; limits: VhostLimits }[] {
    return this.tenancy.access.vhostLimitList();
  }

  listUserLimits(): { user: string; limits: UserLimits }[] {
    return this.tenancy.access.userLimitList();
  }

  listUsers(): { name: string; tags: readonly string[] }[] {
    return this.tenancy.access.userList.map((u) => ({ name: u.name, tags: u.tags }));
  }

  listVhosts(): string[] {
    return [...this.tenancy.vhosts.keys()];
  }

  listPermissions(filter: { vhost?: string; user?: string } = {}): PermissionDefinition[] {
    return this.tenancy.access.permissionList(filter);
  }

  listTopicPermissions(): TopicPermissionDefinition[] {
    return this.tenancy.access.topicPermissionList();
  }

  /** Runs `task` once every change before it has finished, whatever became of them. */
  private serially(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => {});
    return run;
  }

  private changeUser(name: string, changes: () => Partial<UserDefinition>): Promise<void> {
    return this.serially(async () => {
      const user = this.existingUser(name);
      await this.change({ op: 'user.put', user: { ...user, ...changes() } });
    });
  }

  /** `recorder` is looked up first: a broker not started yet refuses the change before anything is applied. */
  private async change(op: AccessOp, recorder: AccessRecorder = this.recorder()): Promise<void> {
    const inverse = this.tenancy.inverseOf(op);
    this.tenancy.apply(op);
    try {
      await recorder.recordAccess(op);
    } catch (err) {
      if (inverse !== undefined) {
        this.tenancy.apply(inverse);
        // Journaled too: the refused record is retried, and this one after it takes it back.
        recorder.recordAccess(inverse).catch(() => {});
      }
      throw err;
    }
  }

  private existingUser(name: string): UserDefinition {
    const user = this.tenancy.access.user(name);
    if (user === undefined) throw new AccessAdminError(`user '${name}' does not exist`);
    return user;
  }

  private existingVhost(name: string): void {
    if (!this.tenancy.vhosts.has(name)) throw new AccessAdminError(`vhost '${name}' does not exist`);
  }
}

function newUser(name: string, password: string, tags: readonly string[]): UserDefinition {
  return { name, passwordHash: hashPassword(password), hashingAlgorithm: DEFAULT_HASHING, tags: [...tags] };
}

/** Limits as RabbitMQ's JSON gives them: integers, negative for no limit (dropped), only the names `known`. */
function parseLimits<K extends string>(limits: Record<string, unknown>, known: readonly K[]): Partial<Record<K, number>> {
  const parsed: Partial<Record<K, number>> = {};
  for (const [name, value] of Object.entries(limits)) {
    if (!(known as readonly string[]).includes(name)) throw new AccessAdminError(`unknown limit '${name}' (known: ${known.join(', ')})`);
    if (!Number.isSafeInteger(value)) throw new AccessAdminError(`limit '${name}' must be an integer, not ${JSON.stringify(value)}`);
    parsed[name as K] = value as number;
  }
  return withoutNegative(parsed);
}

function withoutNegative<T extends Record<string, number | undefined>>(limits: T): T {
  return Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined && v >= 0)) as T;
}

/** A permission pattern must be a valid regular expression: checked here, not at the first check that meets it. */
function pattern(source: string): string {
  try {
    new RegExp(source);
  } catch (err) {
    throw new AccessAdminError(`invalid regular expression '${source}': ${(err as Error).message}`);
  }
  return source;
}
