import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { PageFile } from '../../src/paging/page-file.js';
import { Message } from '../../src/queue/message.js';
import type { StoredLocation } from '../../src/store/stored-location.js';

const MIB = 1024 * 1024;
const paging = { paging: true };

function message(n: number, bodyBytes: number): Message {
  return Message.fromParts('x', `key.${n}`, Buffer.from([0x10, 0x00, 2]), Buffer.alloc(bodyBytes, n % 251));
}

function files(dir: string): Record<string, number> {
  return Object.fromEntries(readdirSync(dir).map((name) => [name, statSync(join(dir, name)).size]));
}

t.test('messages read back whole, from the write buffer before it is written and from the file after', async (t) => {
  const dir = join(t.testdir(), 'paging');
  const pages = new PageFile(dir, paging, pino({ level: 'silent' }));
  pages.open();
  t.teardown(() => pages.close());
  const at = pages.write(message(7, 100))!;
  const fromBuffer = pages.read(at);
  t.same([fromBuffer.exchange, fromBuffer.routingKey, fromBuffer.persistent, fromBuffer.body], ['x', 'key.7', true, Buffer.alloc(100, 7)], 'before the write');
  await new Promise(setImmediate);
  t.ok(files(dir)['0.page']! > 100, 'the buffer is written when the event loop turns');
  t.same(pages.read(at).body, Buffer.alloc(100, 7), 'after the write');
  const big = pages.write(message(9, 3 * MIB))!;
  t.same(pages.read(big).body, Buffer.alloc(3 * MIB, 9), 'a message larger than the buffer');
});

t.test('a segment is deleted once no record in it is wanted; the one being written is emptied', async (t) => {
  const dir = join(t.testdir(), 'paging');
  const pages = new PageFile(dir, paging, pino({ level: 'silent' }));
  pages.open();
  t.teardown(() => pages.close());
  const written: StoredLocation[] = [];
  // 40 MiB: two full 16 MiB segments and part of a third.
  for (let i = 0; i < 640; i++) written.push(pages.write(message(i, 64 * 1024))!);
  await new Promise(setImmediate);
  t.same(Object.keys(files(dir)).sort(), ['0.page', '1.page', '2.page'], 'three segments');
  for (const location of written.filter((l) => l.segment === 0)) pages.release(location);
  t.same(Object.keys(files(dir)).sort(), ['1.page', '2.page'], 'the first goes when its last record is released');
  t.same(pages.read(written[639]!).body, Buffer.alloc(64 * 1024, 639 % 251), 'the others read on');
  for (const location of written.filter((l) => l.segment > 0)) pages.release(location);
  t.same(files(dir), { '2.page': 0 }, 'the one being written stays, emptied');
  const again = pages.write(message(1, 10))!;
  t.same(again, { segment: 2, offset: 0 }, 'and is written again from the start');
});
