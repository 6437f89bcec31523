/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): self time per function and
 * per source file, as markdown.
 *
 *   node dist/bench/profile-summary.js <file.cpuprofile> [top=25]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Paths shortened to what identifies them: src/…, node:…, node_modules/<package>/…. */
function shortUrl(url: string): string {
  if (url === '') return '';
  const src = /\/(?:dist\/)?((?:src|bench)\/.*)$/.exec(url);
  if (src !== null) return src[1]!;
  const mod = /node_modules\/(.*)$/.exec(url);
  if (mod !== null) return mod[1]!;
  return url.replace(/^file:\/\//, '');
}

interface SelfTime {
  readonly name: string;
  readonly ms: number;
  readonly pct: number;
}

function selfTimes(profile: CpuProfile): { functions: SelfTime[]; files: SelfTime[]; totalMs: number; busyMs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  let total = 0;
  let idle = 0;
  // timeDeltas[i + 1] is the time from sample i to the next: what sample i stood for.
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i + 1] ?? 0;
    const node = byId.get(profile.samples[i]!);
    if (node === undefined) continue;
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    const where = shortUrl(url);
    const key = `${functionName || '(anonymous)'}${where === '' ? '' : ` ${where}:${lineNumber + 1}`}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const f = where === '' ? functionName : where;
    file.set(f, (file.get(f) ?? 0) + us);
  }
  const busy = total - idle;
  const rank = (m: Map<string, number>): SelfTime[] =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, ms: us / 1000, pct: (us / busy) * 100 }));
  return { functions: rank(fn), files: rank(file), totalMs: total / 1000, busyMs: busy / 1000 };
}

export function profileMarkdown(title: string, path: string, top = 25): string {
  const s = selfTimes(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile);
  const rows = (xs: readonly SelfTime[]): string[] => xs.slice(0, top).map((x) => `| ${x.pct.toFixed(1)}% | ${Math.round(x.ms)} | \`${x.name}\` |`);
  return [
    `### ${title}`,
    '',
    `${path}: ${Math.round(s.totalMs)} ms profiled, ${Math.round(s.busyMs)} ms not idle; shares below are of the non-idle time.`,
    '',
    '| self | ms | function |',
    '| --- | --- | --- |',
    ...rows(s.functions),
    '',
    '| self | ms | file |',
    '| --- | --- | --- |',
    ...rows(s.files).slice(0, 12),
    '',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [path, top] = process.argv.slice(2);
  if (path === undefined) {
    process.stderr.write('usage: node dist/bench/profile-summary.js <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(profileMarkdown(path, path, top === undefined ? 25 : Number(top)));
}
