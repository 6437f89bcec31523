import t from 'tap';
import { parseInformationUnit } from '../../src/config/information-unit.js';

t.test('plain integers are bytes', async (t) => {
  t.equal(parseInformationUnit('800000000'), 800_000_000);
  t.equal(parseInformationUnit('0'), 0);
  t.equal(parseInformationUnit(' 42 '), 42, 'surrounding blanks are ignored');
});

t.test('k, M, G, T, P are powers of 1000, with or without B, in any case (RabbitMQ 3.13)', async (t) => {
  t.equal(parseInformationUnit('50MB'), 50_000_000);
  t.equal(parseInformationUnit('1GB'), 1_000_000_000);
  t.equal(parseInformationUnit('1G'), 1_000_000_000);
  t.equal(parseInformationUnit('2kB'), 2000);
  t.equal(parseInformationUnit('2k'), 2000);
  t.equal(parseInformationUnit('3mb'), 3_000_000);
  t.equal(parseInformationUnit('1TB'), 1e12);
  t.equal(parseInformationUnit('1PB'), 1e15);
});

t.test('Ki, Mi, Gi, Ti, Pi are powers of 1024, with or without B', async (t) => {
  t.equal(parseInformationUnit('512MiB'), 512 * 1024 ** 2);
  t.equal(parseInformationUnit('1GiB'), 1024 ** 3);
  t.equal(parseInformationUnit('1Gi'), 1024 ** 3);
  t.equal(parseInformationUnit('4KiB'), 4096);
  t.equal(parseInformationUnit('4kib'), 4096);
  t.equal(parseInformationUnit('1TiB'), 1024 ** 4);
});

t.test('anything else is not an amount', async (t) => {
  for (const text of ['', 'GB', '1.5GB', '-1', '1 GB', '1XB', '1B', '1e9', '0x10', '1GiBs', '99999999PB']) {
    t.equal(parseInformationUnit(text), undefined, `'${text}'`);
  }
});
