export { Broker, startBroker, type BrokerOptions, type ExchangeStats } from './broker.js';
export type { ArbiterConfig, BrokerConfig, ReplicationConfig } from './config/broker-config.js';
export { FailoverNode } from './failover/failover-node.js';
