import type { AccessAdmin } from './access-admin.js';
import { AccessAdminError } from './access-admin.js';
import { isHashingAlgorithm } from './password-hash.js';

/** What an import brought in, by kind. */
export interface ImportCounts {
  vhosts: number;
  users: number;
  permissions: number;
  topicPermissions: number;
}

type Json = Record<string, unknown>;

/**
 * Imports the vhosts, users (with their password hashes, tags and limits),
 * permissions and topic permissions of a RabbitMQ definitions file (what
 * `rabbitmqctl export_definitions` or the management API writes); its other
 * parts (queues, exchanges, policies) are left out. A user or permission
 * already there is replaced, as RabbitMQ's import does.
 */
export async function importAccessDefinitions(admin: AccessAdmin, definitions: unknown): Promise<ImportCounts> {
  if (!isObject(definitions)) throw new AccessAdminError('a definitions file is a JSON object');
  const counts: ImportCounts = { vhosts: 0, users: 0, permissions: 0, topicPermissions: 0 };
  const existing = new Set(admin.listVhosts());
  for (const v of list(definitions, 'vhosts')) {
    const name = text(v, 'name');
    if (!existing.has(name)) await admin.addVhost(name);
    counts.vhosts++;
  }
  for (const u of list(definitions, 'users')) {
    const name = text(u, 'name');
    const hashingAlgorithm = u['hashing_algorithm'] ?? 'rabbit_password_hashing_sha256';
    if (typeof hashingAlgorithm !== 'string' || !isHashingAlgorithm(hashingAlgorithm)) throw new AccessAdminError(`user '${name}': unknown hashing_algorithm ${JSON.stringify(hashingAlgorithm)}`);
    await admin.putUser({ name, passwordHash: text(u, 'password_hash'), hashingAlgorithm, tags: tags(u['tags']) });
    if (isObject(u['limits']) && Object.keys(u['limits']).length > 0) await admin.setUserLimits(name, u['limits']);
    counts.users++;
  }
  for (const p of list(definitions, 'permissions')) {
    await admin.setPermissions(text(p, 'user'), text(p, 'vhost'), { configure: text(p, 'configure'), write: text(p, 'write'), read: text(p, 'read') });
    counts.permissions++;
  }
  for (const p of list(definitions, 'topic_permissions')) {
    await admin.setTopicPermissions(text(p, 'user'), text(p, 'vhost'), text(p, 'exchange'), { write: text(p, 'write'), read: text(p, 'read') });
    counts.topicPermissions++;
  }
  return counts;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function list(definitions: Json, key: string): Json[] {
  const items = definitions[key] ?? [];
  if (!Array.isArray(items) || !items.every(isObject)) throw new AccessAdminError(`"${key}" must be a list of objects`);
  return items;
}

function text(item: Json, key: string): string {
  const value = item[key];
  if (typeof value !== 'string') throw new AccessAdminError(`${JSON.stringify(item).slice(0, 80)}: "${key}" must be a string`);
  return value;
}

/** Tags as a list (3.10 and later) or one comma-separated string (earlier versions). */
function tags(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((t): t is string => typeof t === 'string');
  if (typeof value === 'string') return value.split(',').map((t) => t.trim()).filter((t) => t !== '');
  return [];
}
