import { readFileSync } from 'node:fs';
import type { AccessAdmin } from '../auth/access-admin.js';
import { importAccessDefinitions } from '../auth/definitions-import.js';
import type { ReplicationStatus } from '../replication/replication-status.js';

/** A node's replication, as the ctl tool drives it. */
export interface ReplicationControl {
  /** Undefined when the node does not replicate. */
  replicationStatus(): ReplicationStatus | undefined;
  /** Makes a standby the primary, in a new epoch; refuses (CommandRefusal) one out of sync unless forced. */
  promote(force: boolean): Promise<string>;
  /** Lets a primary under the `hold` policy confirm without its standby until one is back in sync. */
  detachStandby(): string;
}

/** What the commands act on. */
export interface ControlledNode {
  readonly admin: AccessAdmin;
  readonly replication: ReplicationControl;
}

/** What a command prints: rows under a header, like rabbitmqctl's tab-separated listings, or a line saying what was done. */
export type CommandOutput = { readonly header: readonly string[]; readonly rows: readonly (readonly string[])[] } | { readonly done: string };

interface Command {
  /** Arguments after the command name, for the usage text; [-p <vhost>] is accepted by those that take a vhost. */
  readonly usage: string;
  /** How many positional arguments it takes, at least and at most. */
  readonly arity: readonly [number, number];
  run(node: ControlledNode, args: readonly string[], vhost: string): Promise<CommandOutput> | CommandOutput;
}

/** A command line's mistake (unknown command, wrong arguments): told to the user with the usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A command the node will not carry out as things stand, with the reason. */
export class CommandRefusal extends Error {
  override readonly name = 'CommandRefusal';
}

const tags = (list: readonly string[]): string => `[${list.join(', ')}]`;

/** rabbitmqctl's commands for users, vhosts and permissions, with its names and argument order. */
export const COMMANDS: Readonly<Record<string, Command>> = {
  add_user: {
    usage: '<username> <password>',
    arity: [2, 2],
    run: async ({ admin }, [user, password]) => (await admin.addUser(user!, password!), { done: `Added user "${user}"` }),
  },
  delete_user: {
    usage: '<username>',
    arity: [1, 1],
    run: async ({ admin }, [user]) => (await admin.deleteUser(user!), { done: `Deleted user "${user}"` }),
  },
  change_password: {
    usage: '<username> <new_password>',
    arity: [2, 2],
    run: async ({ admin }, [user, password]) => (await admin.changePassword(user!, password!), { done: `Changed password for user "${user}"` }),
  },
  clear_password: {
    usage: '<username>',
    arity: [1, 1],
    run: async ({ admin }, [user]) => (await admin.clearPassword(user!), { done: `Cleared password for user "${user}"` }),
  },
  set_user_tags: {
    usage: '<username> [<tag> ...]',
    arity: [1, Infinity],
    run: async ({ admin }, [user, ...list]) => (await admin.setUserTags(user!, list), { done: `Set tags ${tags(list)} for user "${user}"` }),
  },
  list_users: {
    usage: '',
    arity: [0, 0],
    run: ({ admin }) => ({ header: ['user', 'tags'], rows: admin.listUsers().map((u) => [u.name, tags(u.tags)]) }),
  },
  add_vhost: {
    usage: '<vhost>',
    arity: [1, 1],
    run: async ({ admin }, [vhost]) => (await admin.addVhost(vhost!), { done: `Added vhost "${vhost}"` }),
  },
  delete_vhost: {
    usage: '<vhost>',
    arity: [1, 1],
    run: async ({ admin }, [vhost]) => (await admin.deleteVhost(vhost!), { done: `Deleted vhost "${vhost}"` }),
  },
  list_vhosts: {
    usage: '',
    arity: [0, 0],
    run: ({ admin }) => ({ header: ['name'], rows: admin.listVhosts().map((v) => [v]) }),
  },
  set_permissions: {
    usage: '[-p <vhost>] <username> <conf> <write> <read>',
    arity: [4, 4],
    run: async ({ admin }, [user, configure, write, read], vhost) => (
      await admin.setPermissions(user!, vhost, { configure: configure!, write: write!, read: read! }),
      { done: `Set permissions for user "${user}" in vhost "${vhost}"` }
    ),
  },
  clear_permissions: {
    usage: '[-p <vhost>] <username>',
    arity: [1, 1],
    run: async ({ admin }, [user], vhost) => (await admin.clearPermissions(user!, vhost), { done: `Cleared permissions for user "${user}" in vhost "${vhost}"` }),
  },
  list_permissions: {
    usage: '[-p <vhost>]',
    arity: [0, 0],
    run: ({ admin }, _args, vhost) => ({ header: ['user', 'configure', 'write', 'read'], rows: admin.listPermissions({ vhost }).map((p) => [p.user, p.configure, p.write, p.read]) }),
  },
  list_user_permissions: {
    usage: '<username>',
    arity: [1, 1],
    run: ({ admin }, [user]) => ({ header: ['vhost', 'configure', 'write', 'read'], rows: admin.listPermissions({ user: user! }).map((p) => [p.vhost, p.configure, p.write, p.read]) }),
  },
  set_topic_permissions: {
    usage: '[-p <vhost>] <username> <exchange> <write> <read>',
    arity: [4, 4],
    run: async ({ admin }, [user, exchange, write, read], vhost) => (
      await admin.setTopicPermissions(user!, vhost, exchange!, { write: write!, read: read! }),
      { done: `Set topic permissions on "${exchange}" for user "${user}" in vhost "${vhost}"` }
    ),
  },
  clear_topic_permissions: {
    usage: '[-p <vhost>] <username> [<exchange>]',
    arity: [1, 2],
    run: async ({ admin }, [user, exchange], vhost) => (
      await admin.clearTopicPermissions(user!, vhost, exchange),
      { done: `Cleared topic permissions for user "${user}" in vhost "${vhost}"` }
    ),
  },
  set_vhost_limits: {
    usage: "[-p <vhost>] '<json, e.g. {\"max-connections\": 100, \"max-queues\": 1000}>'",
    arity: [1, 1],
    run: async ({ admin }, [json], vhost) => (await admin.setVhostLimits(vhost, jsonObject(json!)), { done: `Set limits for vhost "${vhost}"` }),
  },
  clear_vhost_limits: {
    usage: '[-p <vhost>]',
    arity: [0, 0],
    run: async ({ admin }, _args, vhost) => (await admin.setVhostLimits(vhost, {}), { done: `Cleared limits for vhost "${vhost}"` }),
  },
  list_vhost_limits: {
    usage: '',
    arity: [0, 0],
    run: ({ admin }) => ({ header: ['vhost', 'limits'], rows: admin.listVhostLimits().map((l) => [l.vhost, JSON.stringify(l.limits)]) }),
  },
  set_user_limits: {
    usage: "<username> '<json, e.g. {\"max-connections\": 10, \"max-channels\": 100}>'",
    arity: [2, 2],
    run: async ({ admin }, [user, json]) => (await admin.setUserLimits(user!, jsonObject(json!)), { done: `Set limits for user "${user}"` }),
  },
  clear_user_limits: {
    usage: '<username> <max-connections|max-channels|all>',
    arity: [2, 2],
    run: async ({ admin }, [user, limit]) => {
      if (limit !== 'max-connections' && limit !== 'max-channels' && limit !== 'all') throw new UsageError(`unknown limit '${limit}'`);
      await admin.clearUserLimits(user!, limit);
      return { done: `Cleared ${limit} limits for user "${user}"` };
    },
  },
  list_user_limits: {
    usage: '',
    arity: [0, 0],
    run: ({ admin }) => ({ header: ['user', 'limits'], rows: admin.listUserLimits().map((l) => [l.user, JSON.stringify(l.limits)]) }),
  },
  import_definitions: {
    usage: '<file, as rabbitmqctl export_definitions writes it: its vhosts, users, permissions and topic permissions>',
    arity: [1, 1],
    run: async ({ admin }, [file]) => {
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(file!, 'utf8'));
      } catch (err) {
        throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
      }
      const n = await importAccessDefinitions(admin, json);
      return { done: `Imported ${n.vhosts} vhosts, ${n.users} users, ${n.permissions} permissions and ${n.topicPermissions} topic permissions from ${file}` };
    },
  },
  replication_status: {
    usage: '',
    arity: [0, 0],
    run: ({ replication }) => {
      const status = replication.replicationStatus();
      if (status === undefined) return { header: ['key', 'value'], rows: [['role', 'standalone (no replication configured)']] };
      const { lag, ...rest } = status;
      const rows = Object.entries(rest).flatMap(([key, value]) => (value === undefined ? [] : [[key, String(value)]]));
      if (lag !== undefined) rows.push(['lag_records', String(lag.records)], ['lag_bytes', String(lag.bytes)], ['lag_seconds', lag.seconds.toFixed(3)]);
      return { header: ['key', 'value'], rows };
    },
  },
  promote: {
    usage: '[--force]  (on a standby: become the primary, in a new epoch; --force even when out of sync)',
    arity: [0, 1],
    run: async ({ replication }, [flag]) => {
      if (flag !== undefined && flag !== '--force') throw new UsageError(`unknown option '${flag}'`);
      return { done: await replication.promote(flag === '--force') };
    },
  },
  detach_standby: {
    usage: '(on a primary under the hold policy: confirm without the standby until one is back in sync)',
    arity: [0, 0],
    run: ({ replication }) => ({ done: replication.detachStandby() }),
  },
  list_topic_permissions: {
    usage: '[-p <vhost>]',
    arity: [0, 0],
    run: ({ admin }, _args, vhost) => ({
      header: ['user', 'exchange', 'write', 'read'],
      rows: admin.listTopicPermissions().filter((p) => p.vhost === vhost).map((p) => [p.user, p.exchange, p.write, p.read]),
    }),
  },
};

function jsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError('limits must be a JSON object');
  return value as Record<string, unknown>;
}

/** Runs one command line (its words after the program name) against the broker. */
export async function runCommand(node: ControlledNode, words: readonly string[]): Promise<CommandOutput> {
  const [name, ...rest] = words;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (command === undefined) throw new UsageError(name === undefined ? 'no command given' : `unknown command '${name}'`);
  let vhost = '/';
  const args: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '-p' || rest[i] === '--vhost') {
      if (i + 1 >= rest.length) throw new UsageError(`${rest[i]} needs a vhost`);
      vhost = rest[++i]!;
    } else {
      args.push(rest[i]!);
    }
  }
  const [least, most] = command.arity;
  if (args.length < least || args.length > most) throw new UsageError(`usage: ${name} ${command.usage}`);
  return command.run(node, args, vhost);
}

/** The usage of every command, one per line. */
export function commandUsage(): string {
  return Object.entries(COMMANDS)
    .map(([name, c]) => `  ${name} ${c.usage}`.trimEnd())
    .join('\n');
}
