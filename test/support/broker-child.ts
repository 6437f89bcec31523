/**
 * A broker in a process of its own that reports on its memory and handles:
 * forked with --expose-gc, it sends its port once listening, then answers
 * each message with process.memoryUsage() after a full collection and its
 * count of active handles (sockets, servers, timers).
 */
import { startBroker } from '../../src/index.js';

export interface ChildReport {
  readonly rss: number;
  readonly heapUsed: number;
  readonly handles: number;
}

const broker = await startBroker({ logLevel: 'silent', handshakeTimeout: Number(process.argv[2] ?? 10) });
process.send!({ port: broker.port });
process.on('message', () => {
  (globalThis as { gc?: () => void }).gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  const report: ChildReport = { rss, heapUsed, handles: process.getActiveResourcesInfo().length };
  process.send!(report);
});
process.on('disconnect', () => void broker.close().then(() => process.exit(0)));
