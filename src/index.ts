export { Broker, startBroker, type BrokerOptions } from './broker.js';
export type { BrokerConfig } from './config/broker-config.js';
