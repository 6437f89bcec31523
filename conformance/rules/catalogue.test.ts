import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { loadCatalogue } from './catalogue.js';

// The catalogue (rules.json) against the specification and the test files.

const here = dirname(fileURLToPath(import.meta.url));
const catalogue = loadCatalogue();
const byId = new Map(catalogue.rules.map((r) => [r.id, r]));

/** The full specification: AMQP_SPEC_XML, else the design notes' reference folder beside the repository. */
const specPath = process.env['AMQP_SPEC_XML'] ?? join(here, '../../../shared/reference/amqp0-9-1.extended.xml');

interface SpecRule {
  readonly id: string;
  readonly text: string;
}

/**
 * Every <rule> of the spec with the id the catalogue uses: the enclosing domain, or
 * class, method and field, then the rule's name (spaces become '-').
 */
function specRules(xml: string): SpecRule[] {
  const rules: SpecRule[] = [];
  const open: { tag: string; name: string }[] = [];
  for (const m of xml.matchAll(/<(\/?)(class|method|field|domain|rule)\b([^>]*?)(\/?)>/g)) {
    const [, closing, tag = '', attrs = '', selfClosing] = m;
    if (closing) {
      const at = open.map((o) => o.tag).lastIndexOf(tag);
      if (at >= 0) open.length = at;
      continue;
    }
    const name = /name\s*=\s*"([^"]*)"/.exec(attrs)?.[1] ?? '';
    if (tag === 'rule') {
      const of = (t: string): string | undefined => open.find((o) => o.tag === t)?.name;
      const domain = of('domain');
      const scope = domain !== undefined ? `domain.${domain}` : [of('class'), of('method'), of('field')].filter((s) => s !== undefined).join('.');
      const end = xml.indexOf('</rule>', m.index);
      rules.push({ id: `${scope}/${name.replaceAll(' ', '-')}`, text: selfClosing ? '' : xml.slice(m.index, end) });
    }
    if (!selfClosing) open.push({ tag, name });
  }
  return rules;
}

const words = (s: string): string[] => s.toLowerCase().replace(/<[^>]+>/g, ' ').match(/[a-z0-9-]+/g) ?? [];

t.test('every rule of the specification is in the catalogue, once, and nothing else is', { skip: existsSync(specPath) ? false : `no specification at ${specPath} (set AMQP_SPEC_XML)` }, async (t) => {
  const spec = specRules(readFileSync(specPath, 'utf8'));
  t.equal(spec.length, 139, 'the specification has 139 rules');
  t.same(catalogue.rules.map((r) => r.id), spec.map((r) => r.id), 'the catalogue lists them in the specification\'s order');
  t.equal(byId.size, catalogue.rules.length, 'no id twice');
  // The summaries are the project's own words: none repeats six words in a row of its rule's text.
  for (const rule of spec) {
    const text = ` ${words(rule.text).join(' ')} `;
    const summary = words(byId.get(rule.id)?.summary ?? '');
    const copied = summary.some((_, i) => i + 6 <= summary.length && text.includes(` ${summary.slice(i, i + 6).join(' ')} `));
    if (copied) t.fail(`${rule.id}: the summary copies the specification's wording`);
  }
});

t.test('each rule has a summary and either tests or a reason it cannot be observed', async (t) => {
  for (const rule of catalogue.rules) {
    if (rule.summary.trim() === '') t.fail(`${rule.id}: no summary`);
    const tested = (rule.tests?.length ?? 0) > 0;
    const reasoned = (rule.reason ?? '').trim() !== '';
    if (tested === reasoned) t.fail(`${rule.id}: needs exactly one of tests and reason`);
  }
  t.pass(`${catalogue.rules.length} rules checked`);
});

t.test('every test a rule names exists, and every rule tag in a test name is in the catalogue', async (t) => {
  const tagsByFile = new Map<string, Set<string>>();
  for (const file of readdirSync(here).filter((f) => f.endsWith('.test.ts'))) {
    const source = readFileSync(join(here, file), 'utf8');
    const tags = new Set<string>();
    for (const [, name = ''] of source.matchAll(/t\.test\(\s*'((?:[^'\\]|\\.)*)'/g)) {
      for (const [, tag = ''] of name.matchAll(/\[([^\]\s]+)\]/g)) tags.add(tag);
    }
    tagsByFile.set(file, tags);
  }
  for (const rule of catalogue.rules) {
    for (const file of rule.tests ?? []) {
      if (!tagsByFile.get(file)?.has(rule.id)) t.fail(`${rule.id}: no test named [${rule.id}] in ${file}`);
    }
  }
  for (const [file, tags] of tagsByFile) {
    for (const tag of tags) {
      if (!byId.get(tag)?.tests?.includes(file)) t.fail(`${file}: the tag [${tag}] is not a catalogue rule listing this file`);
    }
  }
  t.pass(`${tagsByFile.size} test files checked`);
});

t.test('at least 90% of the rules are covered by a test', async (t) => {
  const covered = catalogue.rules.filter((r) => (r.tests?.length ?? 0) > 0).length;
  t.ok(covered / catalogue.rules.length >= 0.9, `${covered}/${catalogue.rules.length} covered`);
});
