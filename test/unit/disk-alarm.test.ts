import { pino } from 'pino';
import t from 'tap';
import { DiskAlarm } from '../../src/alarm/disk-alarm.js';

/** A disk alarm over a fake free-space figure, with the log lines it writes and the changes it reports. */
function alarm(limit: number): { alarm: DiskAlarm; setFree: (bytes: number | Error) => void; logs: string[]; changes: boolean[] } {
  let free: number | Error = 0;
  const logs: string[] = [];
  const changes: boolean[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => logs.push((JSON.parse(line) as { msg: string }).msg) });
  const freeSpace = (): number => {
    if (free instanceof Error) throw free;
    return free;
  };
  return { alarm: new DiskAlarm('/data', limit, 1000, log, (active) => changes.push(active), freeSpace), setFree: (b) => (free = b), logs, changes };
}

t.test('raised below the limit, cleared as soon as free space is back at the limit, each change reported once', async (t) => {
  const { alarm: disk, setFree, changes } = alarm(1000);
  setFree(5000);
  disk.check();
  setFree(999);
  disk.check();
  disk.check();
  t.same(changes, [true]);
  t.ok(disk.active);
  setFree(1000);
  disk.check();
  t.same(changes, [true, false], 'no hysteresis, as in RabbitMQ: free = limit clears it');
});

t.test('a new limit applies at once', async (t) => {
  const { alarm: disk, setFree, changes } = alarm(1000);
  setFree(5000);
  disk.setLimit(6000);
  t.same(changes, [true]);
  disk.setLimit(5000);
  t.same(changes, [true, false]);
});

t.test('free space that cannot be read keeps the alarm as it was and is logged once until it reads again', async (t) => {
  const { alarm: disk, setFree, logs, changes } = alarm(1000);
  setFree(10);
  t.equal(disk.check(), 10);
  setFree(new Error('EIO'));
  t.equal(disk.check(), undefined);
  disk.check();
  t.ok(disk.active, 'still raised');
  t.equal(logs.filter((m) => m.startsWith('cannot read free disk space')).length, 1);
  setFree(5000);
  disk.check();
  t.same(changes, [true, false]);
});
