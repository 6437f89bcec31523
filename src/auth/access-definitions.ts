import type { Decoder } from '../protocol/decoder.js';
import type { Encoder } from '../protocol/encoder.js';
import { readList, writeList } from '../protocol/record-lists.js';
import { type HashingAlgorithm, isHashingAlgorithm } from './password-hash.js';

/**
 * Users, virtual hosts and permissions, as durable definitions: each change
 * is an operation recorded in the journal with the other definitions, and
 * each snapshot holds them all (spec/storage-format.md).
 */
export interface UserDefinition {
  readonly name: string;
  /** Base64 of salt and digest, as RabbitMQ's definitions files carry it; empty for a user that cannot log in with a password. */
  readonly passwordHash: string;
  readonly hashingAlgorithm: HashingAlgorithm;
  /** administrator, monitoring, policymaker, management, or any other word. */
  readonly tags: readonly string[];
}

/** What a user may do in a vhost: regular expressions over resource names, as in RabbitMQ. */
export interface PermissionDefinition {
  readonly user: string;
  readonly vhost: string;
  readonly configure: string;
  readonly write: string;
  readonly read: string;
}

/** Which routing keys a user may publish with (write) and bind with (read) on one topic exchange. */
export interface TopicPermissionDefinition {
  readonly user: string;
  readonly vhost: string;
  readonly exchange: string;
  readonly write: string;
  readonly read: string;
}

/** RabbitMQ's vhost limits; absent: no limit. */
export interface VhostLimits {
  readonly 'max-connections'?: number;
  readonly 'max-queues'?: number;
}

/** RabbitMQ's user limits; absent: no limit. */
export interface UserLimits {
  readonly 'max-connections'?: number;
  readonly 'max-channels'?: number;
}

export interface AccessDefinitions {
  readonly vhosts: readonly string[];
  readonly users: readonly UserDefinition[];
  readonly permissions: readonly PermissionDefinition[];
  readonly topicPermissions: readonly TopicPermissionDefinition[];
  readonly vhostLimits: readonly { readonly vhost: string; readonly limits: VhostLimits }[];
  readonly userLimits: readonly { readonly user: string; readonly limits: UserLimits }[];
}

export type AccessOp =
  | { readonly op: 'vhost.added'; readonly name: string }
  | { readonly op: 'vhost.deleted'; readonly name: string }
  | { readonly op: 'user.put'; readonly user: UserDefinition }
  | { readonly op: 'user.deleted'; readonly name: string }
  | { readonly op: 'permission.set'; readonly permission: PermissionDefinition }
  | { readonly op: 'permission.cleared'; readonly user: string; readonly vhost: string }
  | { readonly op: 'topic-permission.set'; readonly permission: TopicPermissionDefinition }
  | { readonly op: 'topic-permission.cleared'; readonly user: string; readonly vhost: string; readonly exchange: string }
  | { readonly op: 'vhost.limits'; readonly vhost: string; readonly limits: VhostLimits }
  | { readonly op: 'user.limits'; readonly user: string; readonly limits: UserLimits };

/** Op codes, after those of definition-records.ts (1-6). */
export const AccessOpCode = {
  VhostAdded: 7,
  VhostDeleted: 8,
  UserPut: 9,
  UserDeleted: 10,
  PermissionSet: 11,
  PermissionCleared: 12,
  TopicPermissionSet: 13,
  TopicPermissionCleared: 14,
  VhostLimits: 15,
  UserLimits: 16,
} as const;

/** A limit on the wire: -1 for none. */
const NO_LIMIT = -1;

export function writeAccessOp(e: Encoder, op: AccessOp): void {
  switch (op.op) {
    case 'vhost.added':
    case 'vhost.deleted':
      e.u8(op.op === 'vhost.added' ? AccessOpCode.VhostAdded : AccessOpCode.VhostDeleted);
      e.shortstr(op.name);
      return;
    case 'user.put':
      e.u8(AccessOpCode.UserPut);
      return writeUser(e, op.user);
    case 'user.deleted':
      e.u8(AccessOpCode.UserDeleted);
      e.shortstr(op.name);
      return;
    case 'permission.set':
      e.u8(AccessOpCode.PermissionSet);
      return writePermission(e, op.permission);
    case 'permission.cleared':
      e.u8(AccessOpCode.PermissionCleared);
      e.shortstr(op.user);
      e.shortstr(op.vhost);
      return;
    case 'topic-permission.set':
      e.u8(AccessOpCode.TopicPermissionSet);
      return writeTopicPermission(e, op.permission);
    case 'topic-permission.cleared':
      e.u8(AccessOpCode.TopicPermissionCleared);
      e.shortstr(op.user);
      e.shortstr(op.vhost);
      e.shortstr(op.exchange);
      return;
    case 'vhost.limits':
      e.u8(AccessOpCode.VhostLimits);
      e.shortstr(op.vhost);
      return writeLimits(e, [op.limits['max-connections'], op.limits['max-queues']]);
    case 'user.limits':
      e.u8(AccessOpCode.UserLimits);
      e.shortstr(op.user);
      return writeLimits(e, [op.limits['max-connections'], op.limits['max-channels']]);
  }
}

function writeLimits(e: Encoder, limits: readonly (number | undefined)[]): void {
  for (const limit of limits) e.u32((limit ?? NO_LIMIT) >>> 0);
}

function readLimit(d: Decoder): number | undefined {
  const limit = d.u32() | 0;
  return limit === NO_LIMIT ? undefined : limit;
}

function readVhostLimits(d: Decoder): VhostLimits {
  return withoutUndefined<VhostLimits>({ 'max-connections': readLimit(d), 'max-queues': readLimit(d) });
}

function readUserLimits(d: Decoder): UserLimits {
  return withoutUndefined<UserLimits>({ 'max-connections': readLimit(d), 'max-channels': readLimit(d) });
}

function withoutUndefined<T extends object>(o: { readonly [K in keyof T]-?: T[K] | undefined }): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** The operation after its op code (already read); undefined for a code that is not an access operation. */
export function readAccessOp(code: number, d: Decoder): AccessOp | undefined {
  switch (code) {
    case AccessOpCode.VhostAdded:
      return { op: 'vhost.added', name: d.shortstr() };
    case AccessOpCode.VhostDeleted:
      return { op: 'vhost.deleted', name: d.shortstr() };
    case AccessOpCode.UserPut:
      return { op: 'user.put', user: readUser(d) };
    case AccessOpCode.UserDeleted:
      return { op: 'user.deleted', name: d.shortstr() };
    case AccessOpCode.PermissionSet:
      return { op: 'permission.set', permission: readPermission(d) };
    case AccessOpCode.PermissionCleared:
      return { op: 'permission.cleared', user: d.shortstr(), vhost: d.shortstr() };
    case AccessOpCode.TopicPermissionSet:
      return { op: 'topic-permission.set', permission: readTopicPermission(d) };
    case AccessOpCode.TopicPermissionCleared:
      return { op: 'topic-permission.cleared', user: d.shortstr(), vhost: d.shortstr(), exchange: d.shortstr() };
    case AccessOpCode.VhostLimits:
      return { op: 'vhost.limits', vhost: d.shortstr(), limits: readVhostLimits(d) };
    case AccessOpCode.UserLimits:
      return { op: 'user.limits', user: d.shortstr(), limits: readUserLimits(d) };
    default:
      return undefined;
  }
}

export function writeAccessDefinitions(e: Encoder, a: AccessDefinitions): void {
  writeList(e, a.vhosts, (e, name) => e.shortstr(name));
  writeList(e, a.users, writeUser);
  writeList(e, a.permissions, writePermission);
  writeList(e, a.topicPermissions, writeTopicPermission);
  writeList(e, a.vhostLimits, (e, { vhost, limits }) => {
    e.shortstr(vhost);
    writeLimits(e, [limits['max-connections'], limits['max-queues']]);
  });
  writeList(e, a.userLimits, (e, { user, limits }) => {
    e.shortstr(user);
    writeLimits(e, [limits['max-connections'], limits['max-channels']]);
  });
}

export function readAccessDefinitions(d: Decoder): AccessDefinitions {
  return {
    vhosts: readList(d, (d) => d.shortstr()),
    users: readList(d, readUser),
    permissions: readList(d, readPermission),
    topicPermissions: readList(d, readTopicPermission),
    vhostLimits: readList(d, (d) => ({ vhost: d.shortstr(), limits: readVhostLimits(d) })),
    userLimits: readList(d, (d) => ({ user: d.shortstr(), limits: readUserLimits(d) })),
  };
}

function writeUser(e: Encoder, u: UserDefinition): void {
  e.shortstr(u.name);
  e.shortstr(u.hashingAlgorithm);
  e.longstr(u.passwordHash);
  writeList(e, u.tags, (e, tag) => e.shortstr(tag));
}

function readUser(d: Decoder): UserDefinition {
  const name = d.shortstr();
  const hashingAlgorithm = d.shortstr();
  if (!isHashingAlgorithm(hashingAlgorithm)) throw new Error(`user '${name}': unknown password hashing '${hashingAlgorithm}'`);
  const passwordHash = d.longstr();
  return { name, hashingAlgorithm, passwordHash, tags: readList(d, (d) => d.shortstr()) };
}

function writePermission(e: Encoder, p: PermissionDefinition): void {
  e.shortstr(p.user);
  e.shortstr(p.vhost);
  e.longstr(p.configure);
  e.longstr(p.write);
  e.longstr(p.read);
}

function readPermission(d: Decoder): PermissionDefinition {
  return { user: d.shortstr(), vhost: d.shortstr(), configure: d.longstr(), write: d.longstr(), read: d.longstr() };
}

function writeTopicPermission(e: Encoder, p: TopicPermissionDefinition): void {
  e.shortstr(p.user);
  e.shortstr(p.vhost);
  e.shortstr(p.exchange);
  e.longstr(p.write);
  e.longstr(p.read);
}

function readTopicPermission(d: Decoder): TopicPermissionDefinition {
  return { user: d.shortstr(), vhost: d.shortstr(), exchange: d.shortstr(), write: d.longstr(), read: d.longstr() };
}
