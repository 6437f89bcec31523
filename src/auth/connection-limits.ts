import type { AccessControl } from './access-control.js';

/** An open connection as the limits count it. */
export interface CountedConnection {
  readonly isOpen: boolean;
  readonly userName: string;
  readonly vhostName: string | undefined;
  readonly channelCount: number;
}

/**
 * The vhost and user limits on connections and channels, counted over the
 * open connections when a limit asks (nothing is counted for those without
 * one), with RabbitMQ's words for each refusal.
 */
export class ConnectionLimits {
  constructor(
    private readonly access: AccessControl,
    private readonly connections: Iterable<CountedConnection>,
  ) {}

  /** Why a user may not open one more connection to a vhost; undefined if they may. */
  connectionRefusal(user: string, vhost: string): string | undefined {
    const vhostMax = this.access.vhostLimit(vhost, 'max-connections');
    if (vhostMax !== undefined && this.count((c) => c.vhostName === vhost) >= vhostMax) {
      return `access to vhost '${vhost}' refused for user '${user}': connection limit (${vhostMax}) is reached`;
    }
    const userMax = this.access.userLimit(user, 'max-connections');
    if (userMax !== undefined && this.count((c) => c.userName === user) >= userMax) {
      return `connection refused for user '${user}': user connection limit (${userMax}) is reached`;
    }
    return undefined;
  }

  /** Why a user may not open one more channel; undefined if they may. */
  channelRefusal(user: string): string | undefined {
    const max = this.access.userLimit(user, 'max-channels');
    if (max === undefined) return undefined;
    let channels = 0;
    for (const c of this.connections) if (c.isOpen && c.userName === user) channels += c.channelCount;
    return channels >= max ? `number of channels opened for user '${user}' has reached the maximum allowed user limit of (${max})` : undefined;
  }

  private count(which: (c: CountedConnection) => boolean): number {
    let n = 0;
    for (const c of this.connections) if (c.isOpen && which(c)) n++;
    return n;
  }
}
