import { pino } from 'pino';
import t from 'tap';
import { startBroker } from '../../src/index.js';
import { nodeStoreFs, type StoreFs } from '../../src/store/store-fs.js';
import { connect, connectionClosed, eventually, within } from '../support/broker.js';
import { tempDataDir } from '../support/data-dir.js';

// A disk that fails under the journal: nothing more is confirmed, and the broker stops.

/** The real file system, except that every fdatasync fails once `failing` is set. */
function failingFs(): { fs: StoreFs; startFailing(): void } {
  let failing = false;
  const fs: StoreFs = {
    ...nodeStoreFs,
    async open(path, create) {
      const file = await nodeStoreFs.open(path, create);
      return {
        write: (data, position) => file.write(data, position),
        datasync: () => (failing ? Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })) : file.datasync()),
        readSync: (target, position) => file.readSync(target, position),
        truncate: (length) => file.truncate(length),
        size: () => file.size(),
        close: () => file.close(),
      };
    },
  };
  return { fs, startFailing: () => void (failing = true) };
}

t.test('when fdatasync fails, pending confirms are nacked, the broker logs it as fatal and closes', async (t) => {
  const dataDir = tempDataDir(t);
  const { fs, startFailing } = failingFs();
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
  const broker = await startBroker({ dataDir, storeFs: fs, logger });
  t.teardown(() => broker.close());
  const connection = await connect(t, broker);
  const closed = connectionClosed(connection);
  const channel = await connection.createConfirmChannel();
  channel.on('error', () => {});
  await channel.assertQueue('dq', { durable: true });
  channel.sendToQueue('dq', Buffer.from('before'), { persistent: true });
  await channel.waitForConfirms();

  startFailing();
  const outcomes = ['a', 'b', 'c'].map(
    (body) =>
      new Promise<string>((resolve) => {
        channel.sendToQueue('dq', Buffer.from(body), { persistent: true }, (err) => resolve(err ? 'nack' : 'ack'));
      }),
  );
  t.same(await within(Promise.all(outcomes), 5000, 'confirms'), ['nack', 'nack', 'nack'], 'every pending publish is nacked');
  const err = await within(closed, 5000, 'the connection closes');
  t.match(String(err), /CONNECTION_FORCED/, 'clients are told the broker is shutting down');
  t.ok(
    lines.some((l) => l.level === 60 && /journal I\/O failed/.test(l.msg)),
    'the failure is logged as fatal',
  );
  await eventually(() => lines.some((l) => l.msg === 'broker stopped'), 5000, 'the broker stops');
  // What the command line waits on to exit with status 1, not 0.
  t.match(String(await within(broker.failed, 5000, 'broker.failed')), /EIO/, 'broker.failed resolves with the error');

  // The data directory is released and what was confirmed before the failure is there.
  const next = await startBroker({ dataDir, logLevel: 'silent' });
  t.teardown(() => next.close());
  const ch = await (await connect(t, next)).createChannel();
  const first = await ch.get('dq', { noAck: true });
  t.equal(first && first.content.toString(), 'before');
});
