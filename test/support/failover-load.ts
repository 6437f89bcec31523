import * as acm from 'amqp-connection-manager';
import type { Channel } from 'amqplib';
import * as amqp from 'amqplib';
import type { Test } from 'tap';
import type { CliBroker } from './cli-process.js';
import { delay, eventually } from './broker.js';

// Traffic for the fault tests of a pair: a confirming publisher and an
// acking consumer through amqp-connection-manager with both nodes' URLs,
// and a ledger of what was published (and when), confirmed (and when) and
// delivered.

const QUEUE = 'fq';

/** One node of a pair in a fault test: its data directory, its ports, and its process while it runs. */
export interface FaultNode {
  readonly name: string;
  readonly dir: string;
  readonly amqpPort: number;
  readonly replicationPort: number;
  process: CliBroker | undefined;
}

export interface FailoverLedger {
  /** Each id published, with when (Date.now()). */
  readonly published: Map<string, number>;
  /** Each id confirmed, with when. */
  readonly confirmed: Map<string, number>;
  readonly seen: Set<string>;
  readonly unknown: string[];
  duplicates: number;
}

function record(ledger: FailoverLedger, m: { readonly content: Buffer }): void {
  const id = m.content.toString();
  if (!ledger.published.has(id)) ledger.unknown.push(id);
  if (ledger.seen.has(id)) ledger.duplicates++;
  ledger.seen.add(id);
}

/** A confirming publisher (at most 32 unconfirmed) and an acking consumer, both failing over between `urls`. */
export function startFailoverLoad(t: Test, urls: string[]): { ledger: FailoverLedger; stop(): Promise<void> } {
  const ledger: FailoverLedger = { published: new Map(), confirmed: new Map(), seen: new Set(), unknown: [], duplicates: 0 };
  const manager = acm.connect(urls, { reconnectTimeInSeconds: 0.2, heartbeatIntervalInSeconds: 2 });
  manager.on('connectFailed', () => {});
  t.teardown(() => manager.close());
  const publishing = manager.createChannel({ json: false, setup: (ch: Channel) => ch.assertQueue(QUEUE, { durable: true }) });
  const consuming = manager.createChannel({
    json: false,
    setup: async (ch: Channel) => {
      await ch.assertQueue(QUEUE, { durable: true });
      await ch.prefetch(64);
      await ch.consume(QUEUE, (m) => {
        if (m === null) return;
        record(ledger, m);
        ch.ack(m);
      });
    },
  });
  let running = true;
  let inflight = 0;
  const publisher = (async () => {
    for (let n = 0; running; n++) {
      while (inflight >= 32 && running) await delay(2);
      const id = `m${n}`;
      ledger.published.set(id, Date.now());
      inflight++;
      publishing.sendToQueue(QUEUE, Buffer.from(id), { persistent: true }).then(
        () => ledger.confirmed.set(id, Date.now()),
        () => {},
      ).finally(() => inflight--);
      await delay(1);
    }
  })();
  return {
    ledger,
    async stop() {
      running = false;
      await publisher;
      // What is still unconfirmed may stay so: it was never promised.
      await eventually(() => inflight === 0, 20_000, 'the last publishes settle').catch(() => {});
      await publishing.close();
      await consuming.close();
      await manager.close();
    },
  };
}

/** Takes what is left in the queue, directly from the primary. */
export async function drain(url: string, ledger: FailoverLedger): Promise<void> {
  const connection = await amqp.connect(url);
  const ch = await connection.createChannel();
  for (;;) {
    const m = await ch.get(QUEUE, { noAck: true });
    if (m === false) break;
    record(ledger, m);
  }
  await connection.close();
}

/** Every confirmed message delivered at least once, nothing delivered that was never published; duplicates are counted, not errors. */
export function checkFailoverLedger(t: Test, ledger: FailoverLedger): void {
  const { published, confirmed, seen, unknown, duplicates } = ledger;
  t.comment(`published ${published.size}, confirmed ${confirmed.size}, delivered ${seen.size}, duplicates ${duplicates}`);
  t.ok(confirmed.size > 0, 'some publishes were confirmed');
  const lost = [...confirmed.keys()].filter((id) => !seen.has(id));
  t.same(lost.slice(0, 20), [], `every confirmed message was delivered (${lost.length} lost)`);
  t.same(unknown.slice(0, 20), [], 'nothing was delivered that was never published');
}
