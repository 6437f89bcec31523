import { Decoder } from '../protocol/decoder.js';
import type { BindingDefinition, Definitions, ExchangeDefinition, QueueDefinition } from './definition-records.js';

/**
 * definitions.json, where versions before the definitions moved into the
 * journal kept durable exchanges, queues and bindings (arguments as base64
 * of their AMQP field-table encoding). Read once, to import a data directory
 * such a version wrote.
 */
const FORMAT_VERSION = 1;

export function parseLegacyDefinitions(bytes: Buffer, path: string): Definitions {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${path} is not valid JSON (${(err as Error).message}); refusing to start, nothing was changed`);
  }
  if (json['version'] !== FORMAT_VERSION) throw new Error(`${path}: unsupported definitions version ${String(json['version'])}`);
  const withArgs = <T>(items: unknown): T[] =>
    (items as (Record<string, unknown> & { arguments: string })[]).map((item) => ({ ...item, arguments: decodeTable(item.arguments) }) as T);
  return {
    nextQueueId: json['nextQueueId'] as number,
    exchanges: withArgs<ExchangeDefinition>(json['exchanges']),
    queues: withArgs<QueueDefinition>(json['queues']),
    bindings: withArgs<BindingDefinition>(json['bindings']),
    // The file had no users or vhosts: the broker that wrote it had only "/" and the default user.
    access: undefined,
  };
}

function decodeTable(base64: string): Definitions['queues'][number]['arguments'] {
  return new Decoder(Buffer.from(base64, 'base64')).table();
}
