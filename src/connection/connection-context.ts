import type { Logger } from 'pino';
import type { AccessControl } from '../auth/access-control.js';
import type { ConsumerTimeout } from '../channel/consumer-timeout.js';
import type { BrokerConfig } from '../config/broker-config.js';
import type { Journal } from '../store/journal.js';
import type { VirtualHost } from '../vhost/virtual-host.js';
import type { HeartbeatClock } from './heartbeat-clock.js';

/** The broker as a connection sees it. */
export interface ConnectionContext {
  readonly config: BrokerConfig;
  /** Who may log in, and what they may do. */
  readonly access: AccessControl;
  readonly clock: HeartbeatClock;
  readonly log: Logger;
  readonly clusterName: string;
  readonly store: { readonly journal: Journal } | undefined;
  /** Publishers are blocked while active; reason is what connection.blocked tells them. */
  readonly alarms: { readonly active: boolean; readonly reason: string };
  /** Closes channels that leave a delivery unacknowledged too long; undefined when consumer_timeout is off. */
  readonly consumerTimeout: ConsumerTimeout | undefined;
  virtualHost(name: string): VirtualHost | undefined;
  /** Why a user may not open one more connection to a vhost (its or the vhost's max-connections), in RabbitMQ's words; undefined if they may. */
  connectionRefusal(user: string, vhost: string): string | undefined;
  /** Why a user may not open one more channel (their max-channels); undefined if they may. */
  channelRefusal(user: string): string | undefined;
  connectionClosed(connection: object): void;
  /** Why this node takes no clients now (a standby names its primary); undefined when it does. */
  serviceRefusal(): string | undefined;
  /** False once a primary's leadership lapsed: nothing a client sends is acted on, even before the broker closes. */
  serving(): boolean;
}
