import type { FieldTable } from '../protocol/field-value.js';
import { PRODUCT, VERSION } from '../version.js';

/**
 * connection.start's server-properties. Each capability is announced only
 * because the broker implements it: clients switch features on from this table.
 */
export function serverProperties(clusterName: string): FieldTable {
  return {
    capabilities: {
      publisher_confirms: true,
      exchange_exchange_bindings: true,
      'basic.nack': true,
      consumer_cancel_notify: true,
      'connection.blocked': true,
      per_consumer_qos: true,
      consumer_priorities: true,
      authentication_failure_close: true,
      direct_reply_to: true,
    },
    cluster_name: clusterName,
    product: PRODUCT,
    version: VERSION,
    platform: `Node.js ${process.version}`,
    copyright: 'The project authors',
    information: 'AMQP 0-9-1 broker; see the README',
  };
}
