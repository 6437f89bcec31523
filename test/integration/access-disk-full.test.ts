import { join } from 'node:path';
import * as amqp from 'amqplib';
import t from 'tap';
import { startBroker } from '../../src/index.js';
import { eventually } from '../support/broker.js';
import { fillDisk, mountTmpfs } from '../support/tmpfs.js';

// A user added while the disk is full must not exist in memory only: the
// change is refused, taken back, and nothing of it comes back after a restart.

t.test('a full disk: adding a user is refused and taken back; once space returns the broker and a restart agree', async (t) => {
  const tmpfs = mountTmpfs(t, 16);
  if ('cannot' in tmpfs) return t.plan(0, tmpfs.cannot);
  const dataDir = join(tmpfs.dir, 'data');
  const first = await startBroker({ dataDir, logLevel: 'silent', diskFreeLimit: 0 });
  await first.admin.addUser('before', 'pw');

  const freeSpace = fillDisk(tmpfs.dir);
  // The journal's last page may still have room: add users until a record needs a page the disk cannot give.
  let refused: string | undefined;
  const added: string[] = [];
  for (let i = 0; i < 200 && refused === undefined; i++) {
    const name = `u${i}-${'x'.repeat(200)}`;
    try {
      await first.admin.addUser(name, 'pw');
      added.push(name);
    } catch (err) {
      t.match((err as Error).message, /could not store it: .*ENOSPC|no space/i, 'refused with the reason');
      refused = name;
    }
  }
  t.ok(refused !== undefined, 'an add_user was refused on the full disk');
  t.notOk(first.admin.listUsers().some((u) => u.name === refused), 'the refused user is not there');
  await t.rejects(amqp.connect({ hostname: '127.0.0.1', port: first.port, username: refused!, password: 'pw' }), /ACCESS_REFUSED/, 'and cannot log in');

  freeSpace();
  await first.admin.addUser('after', 'pw');
  await eventually(() => first.store?.journal.writeFailure === undefined, 10_000, 'the journal writes again');
  await first.close();

  const second = await startBroker({ dataDir, logLevel: 'silent', diskFreeLimit: 0 });
  t.teardown(() => second.close());
  const names = second.admin.listUsers().map((u) => u.name);
  t.ok(['guest', 'before', 'after', ...added].every((n) => names.includes(n)), 'every user whose change was answered is back');
  t.notOk(names.includes(refused!), 'the refused one is not');
});
