import type { ClientCapabilities } from '../channel/channel-host.js';
import { type FieldTable, isFieldTable, plainValue } from '../protocol/field-value.js';

/** Nothing is assumed before the client announces it (start-ok has not arrived yet). */
export const NO_CAPABILITIES: ClientCapabilities = {
  consumerCancelNotify: false,
  connectionBlocked: false,
  authenticationFailureClose: false,
  publisherConfirms: false,
};

/** Reads client_properties.capabilities: the broker only sends what the client said it handles. */
export function readClientCapabilities(clientProperties: FieldTable): ClientCapabilities {
  const caps = clientProperties['capabilities'];
  if (!isFieldTable(caps)) return NO_CAPABILITIES;
  const has = (name: string): boolean => {
    const v = caps[name];
    return v !== undefined && plainValue(v) === true;
  };
  return {
    consumerCancelNotify: has('consumer_cancel_notify'),
    connectionBlocked: has('connection.blocked'),
    authenticationFailureClose: has('authentication_failure_close'),
    publisherConfirms: has('publisher_confirms'),
  };
}
