import type { Logger } from 'pino';
import type { ResourceAccess } from '../auth/resource-access.js';
import type { FrameWriter } from '../framing/frame-writer.js';
import type { Channel } from './channel.js';
import type { ConsumerTimeout } from './consumer-timeout.js';
import type { Journal } from '../store/journal.js';
import type { VirtualHost } from '../vhost/virtual-host.js';

/** What the client said it can handle, from client_properties.capabilities. */
export interface ClientCapabilities {
  readonly consumerCancelNotify: boolean;
  readonly connectionBlocked: boolean;
  readonly authenticationFailureClose: boolean;
  readonly publisherConfirms: boolean;
}

/** The connection as its channels see it. */
export interface ChannelHost {
  readonly writer: FrameWriter;
  readonly vhost: VirtualHost;
  /** The message journal, when the broker keeps durable state. */
  readonly journal: Journal | undefined;
  readonly capabilities: ClientCapabilities;
  readonly log: Logger;
  readonly maxMessageSize: number;
  /** The broker's consumer_timeout; undefined when it is off. */
  readonly consumerTimeout: ConsumerTimeout | undefined;
  /** The user the connection authenticated as; a published user-id property must name it. */
  readonly userName: string;
  /** What that user may do in the vhost. */
  readonly resources: ResourceAccess;
  /** Identity that owns this connection's exclusive queues. */
  readonly owner: object;
  /** True while the socket has more unsent output than the back-pressure limit. */
  readonly congested: boolean;
  /** A consumer was held back by back-pressure; call it again once output drains. */
  consumerStalled(): void;
  /** A confirm became due: make sure the writer flushes this tick. */
  confirmsPending(): void;
  /** A command run later (held behind a commit) failed: scope and report it as if it had failed on arrival. */
  commandFailed(channel: Channel, err: unknown): void;
  /** A message was published on this connection (publishers are what a memory alarm blocks). */
  publishing(): void;
}
