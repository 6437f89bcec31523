import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { StandbyDirectory } from '../../src/replication/standby-directory.js';
import { nodeStoreFs } from '../../src/store/store-fs.js';
import { tempDataDir } from '../support/data-dir.js';

// The standby's journals across syncs, crashes between their steps, and
// promotions: whichever state a crash leaves, the last complete journal is
// never lost, and a promotion takes the best journal there is.

/** A data directory with journals holding a file that says which they are, and the markers given. */
function dataDir(t: Test, journals: Record<string, string | undefined>): { dir: string; standby: StandbyDirectory } {
  const dir = tempDataDir(t, 'standby-dir-');
  for (const [name, marker] of Object.entries(journals)) {
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, 'WHICH'), name);
    if (marker !== undefined) writeFileSync(join(dir, name, marker), '');
  }
  return { dir, standby: new StandbyDirectory(dir, nodeStoreFs) };
}

const which = (dir: string, journal = 'journal'): string | undefined => (existsSync(join(dir, journal, 'WHICH')) ? readFileSync(join(dir, journal, 'WHICH'), 'utf8') : undefined);

t.test('a sync sets a complete journal aside, and a sync cut short is thrown away, keeping the one aside', async (t) => {
  const { dir, standby } = dataDir(t, { journal: 'SYNCED' });
  await standby.beginSync();
  t.equal(which(dir, 'journal.previous'), 'journal', 'the complete journal is kept aside');
  t.ok(existsSync(join(dir, 'journal', 'SYNCING')), 'the new one is marked SYNCING');
  t.notOk(standby.complete);
  await standby.beginSync();
  t.equal(which(dir, 'journal.previous'), 'journal', 'a second sync keeps the complete one, not the partial one');
  await standby.endSync();
  t.ok(standby.complete, 'complete once ended');
  t.notOk(existsSync(join(dir, 'journal.previous')), 'and the one aside is gone');
});

t.test("a primary's own journal is set aside too, and leftovers of a crash are cleared", async (t) => {
  const { dir, standby } = dataDir(t, { journal: undefined, 'journal.new': 'SYNCING' });
  await standby.beginSync();
  t.equal(which(dir, 'journal.previous'), 'journal', "the node's own journal is kept aside");
  t.notOk(existsSync(join(dir, 'journal.new')), 'no leftover');
});

t.test('a promotion takes the best journal there is', async (t) => {
  const cases: [Record<string, string | undefined>, string, string | undefined][] = [
    [{ journal: 'SYNCED', 'journal.previous': 'SYNCED' }, 'in sync', 'journal'],
    [{ journal: 'SYNCING', 'journal.previous': 'SYNCED' }, 'last complete, set aside by a sync cut short', 'journal.previous'],
    // A crash between setting the journal aside and renaming the fresh one in.
    [{ 'journal.previous': 'SYNCED', 'journal.new': 'SYNCING' }, 'last complete, set aside by a sync cut short', 'journal.previous'],
    [{ journal: 'SYNCING' }, 'partial sync', 'journal'],
    [{ journal: undefined }, 'not a mirror', 'journal'],
  ];
  for (const [journals, expected, from] of cases) {
    const { dir, standby } = dataDir(t, journals);
    t.equal(await standby.prepareForPromotion(), expected, JSON.stringify(journals));
    t.equal(which(dir), from, `  recovers from ${from}`);
    t.notOk(existsSync(join(dir, 'journal', 'SYNCED')) || existsSync(join(dir, 'journal', 'SYNCING')), '  no marker left');
  }
});
