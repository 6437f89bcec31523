import t from 'tap';
import { connect, connectionClosed, delay, roundTrip, withBroker } from '../support/broker.js';
import { bodyFrame, headerFrame, methodFrame, publishMethod, RawClient } from '../support/raw-client.js';

// One connection flooding the broker must not starve the others: the broker
// bounds the work it does per socket read, so replies, deliveries and
// heartbeats keep flowing to everyone while the flood goes on.

/** Longest the flood may last; a starved probe would only finish after it. */
const FLOOD_CAP_MS = 20_000;

t.test('while one connection floods publishes, another is served and its heartbeats keep it alive', async (t) => {
  const broker = await withBroker(t);
  const flooder = await RawClient.open(t, broker.port, { heartbeat: 0 });
  await flooder.openChannel(1);
  // Unroutable publishes: full parsing and routing work for the broker, no memory growth.
  const publish = Buffer.concat([methodFrame(1, publishMethod('nowhere')), headerFrame(1, 100), bodyFrame(1, Buffer.alloc(100, 1))]);
  const batch = Buffer.concat(Array.from({ length: 200 }, () => publish));

  let probeDone = false;
  const started = Date.now();
  const flood = flooder.flood(batch, () => probeDone || Date.now() - started > FLOOD_CAP_MS);

  const probe = await connect(t, broker, { heartbeat: 1 });
  let closedBy: unknown = 'still open';
  void connectionClosed(probe).then((err) => (closedBy = err));
  for (let i = 0; i < 10; i++) t.equal(await roundTrip(probe, `ping ${i}`), `ping ${i}`);
  // Three heartbeat intervals: a client or a broker that heard nothing for two would drop the connection.
  await delay(3000);
  t.equal(await roundTrip(probe, 'still here'), 'still here');
  const floodStillRunning = Date.now() - started < FLOOD_CAP_MS;
  probeDone = true;
  const writes = await flood;

  t.ok(floodStillRunning, 'the probe was served during the flood, not after it');
  t.equal(closedBy, 'still open', 'no missed heartbeats on either side');
  t.ok(writes > 10, `the flood was a flood (${writes} batches of 200 publishes)`);
  t.notOk(flooder.closed, 'and the flooder was not disconnected either');
});
