export { Broker, startBroker, type BrokerOptions, type ExchangeStats } from './broker.js';
export type { BrokerConfig } from './config/broker-config.js';
