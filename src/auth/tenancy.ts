import type { Pager } from '../queue/ready-list.js';
import { type DurabilityHooks, VirtualHost } from '../vhost/virtual-host.js';
import type { AccessDefinitions, AccessOp } from './access-definitions.js';
import { AccessControl } from './access-control.js';
import { DEFAULT_HASHING, hashPassword } from './password-hash.js';

/** RabbitMQ's first-start definitions: the vhost "/", and the default user, an administrator with every permission on it. */
export interface DefaultAccess {
  readonly vhost: string;
  readonly user: string;
  readonly password: string;
}

/**
 * The broker's vhosts and who may use them: what access operations change,
 * applied the same way live and when recovery replays them.
 */
export class Tenancy {
  readonly vhosts = new Map<string, VirtualHost>();
  readonly access: AccessControl;
  private durable: DurabilityHooks | undefined;

  constructor(
    loopbackUsers: ReadonlySet<string>,
    private readonly pager: Pager | undefined,
  ) {
    this.access = new AccessControl(loopbackUsers);
  }

  /** Set by the durable store once it is open (recovery runs without it): every vhost reports its durable changes to it. */
  get durability(): DurabilityHooks | undefined {
    return this.durable;
  }

  set durability(hooks: DurabilityHooks | undefined) {
    this.durable = hooks;
    for (const vhost of this.vhosts.values()) vhost.durability = hooks;
  }

  /** Applies one operation; idempotent, for recovery. A vhost goes only when empty: the live path deletes what it held first. */
  apply(op: AccessOp): void {
    if (op.op === 'vhost.added' && !this.vhosts.has(op.name)) {
      const vhost = new VirtualHost(op.name);
      vhost.pager = this.pager;
      vhost.durability = this.durable;
      this.vhosts.set(op.name, vhost);
    } else if (op.op === 'vhost.deleted') {
      this.vhosts.get(op.name)?.stop();
      this.vhosts.delete(op.name);
    }
    this.access.apply(op);
  }

  /** What recovery found in a snapshot, or, when it has none (a first start, or a snapshot of an earlier version), the defaults. */
  restore(a: AccessDefinitions | undefined, defaults: DefaultAccess): void {
    if (a === undefined) {
      for (const op of defaultOps(defaults)) this.apply(op);
      return;
    }
    for (const name of a.vhosts) this.apply({ op: 'vhost.added', name });
    this.access.restore(a);
  }

  collect(): AccessDefinitions {
    return {
      vhosts: [...this.vhosts.keys()],
      users: this.access.userList,
      permissions: this.access.permissionList(),
      topicPermissions: this.access.topicPermissionList(),
      vhostLimits: this.access.vhostLimitList(),
      userLimits: this.access.userLimitList(),
    };
  }

  /**
   * The operation that takes `op` back, from the state before it: applied
   * (and journaled) when `op` could not be stored. A deletion has none: it
   * stays done, and reaches the disk when writes go through.
   */
  inverseOf(op: AccessOp): AccessOp | undefined {
    switch (op.op) {
      case 'vhost.added':
        return this.vhosts.has(op.name) ? undefined : { op: 'vhost.deleted', name: op.name };
      case 'user.put': {
        const before = this.access.user(op.user.name);
        return before === undefined ? { op: 'user.deleted', name: op.user.name } : { op: 'user.put', user: before };
      }
      case 'permission.set': {
        const { user, vhost } = op.permission;
        const before = this.access.permissionList({ vhost, user })[0];
        return before === undefined ? { op: 'permission.cleared', user, vhost } : { op: 'permission.set', permission: before };
      }
      case 'topic-permission.set': {
        const { user, vhost, exchange } = op.permission;
        const before = this.access.topicPermissionList().find((p) => p.user === user && p.vhost === vhost && p.exchange === exchange);
        return before === undefined ? { op: 'topic-permission.cleared', user, vhost, exchange } : { op: 'topic-permission.set', permission: before };
      }
      case 'vhost.limits':
        return { op: 'vhost.limits', vhost: op.vhost, limits: this.access.vhostLimitList().find((l) => l.vhost === op.vhost)?.limits ?? {} };
      case 'user.limits':
        return { op: 'user.limits', user: op.user, limits: this.access.userLimitList().find((l) => l.user === op.user)?.limits ?? {} };
      default:
        return undefined;
    }
  }
}

function defaultOps({ vhost, user, password }: DefaultAccess): AccessOp[] {
  return [
    { op: 'vhost.added', name: vhost },
    { op: 'user.put', user: { name: user, passwordHash: hashPassword(password), hashingAlgorithm: DEFAULT_HASHING, tags: ['administrator'] } },
    { op: 'permission.set', permission: { user, vhost, configure: '.*', write: '.*', read: '.*' } },
  ];
}
