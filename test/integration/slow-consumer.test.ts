import v8 from 'node:v8';
import vm from 'node:vm';
import t, { type Test } from 'tap';
import type * as amqp from 'amqplib';
import { MethodId } from '../../src/protocol/generated/amqp-methods.js';
import { connect, delay, withBroker } from '../support/broker.js';
import { readyCount } from '../support/messages.js';
import { RawClient } from '../support/raw-client.js';

/*
 * A consumer that stops reading its socket must not make the broker buffer
 * the queue into that socket without bound: deliveries pause once the
 * connection's unsent output passes its limit (1 MiB by default), and the
 * messages wait in the queue, where they are counted and can be managed.
 * The broker runs in this process, so its memory is process.memoryUsage().
 */

// The largest body the broker copies into its output buffer (larger ones are referenced), and too large
// for Node's shared 8 KiB allocation pool, where short-lived buffers of the in-process publisher would
// pin the queue's slabs and blur the measurement.
const MESSAGE_SIZE = 4096;
const MESSAGES = 16384; // 64 MiB
const MiB = 1024 * 1024;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/**
 * Live memory that grows with buffered message data (the JS heap and Buffers
 * outside it), once collections stop finding more to free: sockets and
 * buffers of a previous test are released over a few turns of the event loop.
 */
async function settledMemory(): Promise<number> {
  let last = Infinity;
  for (let i = 0; i < 50; i++) {
    gc();
    const { heapUsed, external } = process.memoryUsage();
    const now = heapUsed + external;
    if (Math.abs(now - last) < MiB / 2) return now;
    last = now;
    await delay(20);
  }
  return last;
}

/** Consumes on a client that then stops reading, publishes MESSAGES, checks what the broker did, and resumes. */
async function stallAndResume(t: Test, consumer: RawClient, publisher: amqp.Channel, queue: string, noAck: boolean): Promise<void> {
  await consumer.openChannel(1);
  consumer.method(1, { id: MethodId.BasicConsume, queue, consumerTag: 'slow', noLocal: false, noAck, exclusive: false, noWait: false, arguments: {} });
  await consumer.expectMethod(MethodId.BasicConsumeOk, 1);
  consumer.pauseReading();

  const before = await settledMemory();
  const body = Buffer.alloc(MESSAGE_SIZE, 'x');
  for (let i = 0; i < MESSAGES; i++) {
    publisher.sendToQueue(queue, body);
    // A round trip now and then keeps the publisher's own buffers small: only the broker's should grow.
    if (i % 256 === 255) await readyCount(publisher, queue);
  }
  const waiting = await readyCount(publisher, queue);
  const grown = (await settledMemory()) - before;
  const inFlight = (MESSAGES - waiting) * MESSAGE_SIZE;
  t.comment(`${waiting} of ${MESSAGES} messages wait in the queue; ${(inFlight / MiB).toFixed(1)} MiB left it; memory grew ${(grown / MiB).toFixed(1)} MiB`);
  t.ok(waiting > 0, 'messages stay in the queue while the consumer does not read');
  // What left the queue sits in the broker's output (bounded by its limit) and the kernel's socket buffers.
  t.ok(inFlight < 24 * MiB, 'the broker did not drain the queue into the stalled socket');
  // The queue must hold the data once; buffering deliveries without bound would hold much of it twice
  // (an acking consumer's messages stay referenced until acked, beside their copies in the output).
  t.ok(grown < MESSAGES * MESSAGE_SIZE * 1.5, 'memory stays near the data the queue holds');

  consumer.resumeReading();
  let delivered = 0;
  while (delivered < MESSAGES) {
    const { method } = await consumer.next(5000);
    if (method?.id === MethodId.BasicDeliver) delivered++;
  }
  t.equal(delivered, MESSAGES, 'every message arrives once the consumer reads again');
  t.equal(await readyCount(publisher, queue), 0);
}

for (const noAck of [true, false]) {
  t.test(`${noAck ? 'a no-ack' : 'an acking'} consumer that does not read its socket leaves the messages in the queue`, async (t) => {
    const broker = await withBroker(t);
    const publisher = await (await connect(t, broker)).createChannel();
    const { queue } = await publisher.assertQueue('slow-consumer', { autoDelete: false });
    // Destroyed here rather than at teardown, which would keep every byte it received alive into the next test.
    const consumer = await RawClient.connect({ teardown: () => {} }, broker.port);
    try {
      await consumer.handshake();
      await stallAndResume(t, consumer, publisher, queue, noAck);
    } finally {
      consumer.destroy();
    }
  });
}
