/**
 * What an arbiter says about a primary (failover/leadership.ts): whether
 * it leads at all at this instant, and whether confirming without its
 * standby has been recorded where a standby would look before taking over.
 */
export interface PrimaryFence {
  /** Asked before any confirm goes out: false once the leadership lapsed, even if nothing noticed yet. */
  holdsLeadership(): boolean;
  /** Whether the arbiter records this primary as confirming alone (asked only when the policy allows it). */
  mayConfirmAlone(): boolean;
  /** The standby came into sync, or dropped out of it: the arbiter's record follows. */
  standbyInSync(inSync: boolean, standby: string | undefined): void;
  /** `changed` runs when what may be confirmed changed (a record landed). */
  onChange(changed: () => void): void;
  /** The primary is closing, its standby holding what it could hand over: the leadership goes at once. */
  release(): Promise<void>;
}

/** Without an arbiter: this node leads, and its policy alone decides about confirming alone. */
export const NO_ARBITER: PrimaryFence = {
  holdsLeadership: () => true,
  mayConfirmAlone: () => true,
  standbyInSync: () => {},
  onChange: () => {},
  release: () => Promise.resolve(),
};
