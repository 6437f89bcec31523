/** Where a node's replication stands: for the logs, the ctl tool and (later) the management API. */
export interface ReplicationStatus {
  readonly role: 'primary' | 'standby';
  readonly epoch: number;
  readonly policy?: string;
  /** The other node's address, when linked. */
  readonly peer: string | undefined;
  readonly state: string;
  /** Primary only: whether confirms wait for the standby now. */
  readonly confirming?: 'alone' | 'with the standby' | 'held until a standby is in sync';
  /** What the standby has not acknowledged yet (primary), or received (standby). */
  readonly lag?: { readonly records: number; readonly bytes: number; readonly seconds: number } | undefined;
}
