import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { generate, specPath } from '../../spec/generate.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

t.test('src/protocol/generated matches what spec/generate.ts writes from spec/', async (t) => {
  const files = generate(readFileSync(specPath(repoRoot), 'utf8'));
  t.ok(files.size >= 3, 'the generator writes the constants, methods and properties files');
  for (const [path, expected] of files) {
    const committed = readFileSync(`${repoRoot}/${path}`, 'utf8');
    t.equal(committed, expected, `${path} is up to date (run npm run generate)`);
  }
});

t.test('the generated methods cover every method of the specification', async (t) => {
  const spec = readFileSync(specPath(repoRoot), 'utf8');
  const methodCount = (spec.match(/<method /g) ?? []).length;
  const generated = readFileSync(`${repoRoot}/src/protocol/generated/amqp-methods.ts`, 'utf8');
  const decoders = (generated.match(/^function decode\w+\(/gm) ?? []).length;
  t.equal(decoders, methodCount);
});
