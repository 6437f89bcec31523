/**
 * This broker against RabbitMQ, side by side (issue 5): installs RabbitMQ
 * from Debian when missing, starts both brokers on their own ports and
 * fresh data directories, both pinned to one CPU and the load generator to
 * the other, runs every scenario on both (interleaved, the order alternating
 * per run), and writes the medians, ratios and targets to bench/results/
 * with the raw JSON lines and the machine. Before that, the generator's
 * ceiling against the null broker; latency scenarios also run, in the same
 * interleaving, against the null broker in echo mode (the floor).
 *
 *   npm run bench                                      (everything, 3 runs)
 *   npm run bench -- --scenarios transient-16b-autoack,fanout-10 --runs 1
 *   npm run bench -- --scale 0.25 --runs 1             (a quick look)
 *   npm run bench -- --profile [--scenarios …]         (node --cpu-prof of this broker; default
 *                                                      transient-16b-autoack and fanout-10)
 *
 *   npm run bench -- --report-from bench/results/compare-<date>.json
 *                                                      (rewrites that run's markdown from its raw JSON)
 *
 * Options: --runs N (3), --scale f (1: shrinks counts and times),
 * --skip-ceiling, --broker-cpu 1, --generator-cpu 0, --port 5680 (this
 * broker; RabbitMQ gets --rabbitmq-port 5674, the null broker 5699),
 * --no-idle-poll (latency scenarios run with the CPUs' idle states as the
 * machine has them, instead of held shallow: bench/idle-polling.ts).
 */
import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureRabbitMQ, packageVersion, portFree, runStoppingBrokers, type RunningBroker, startNullBroker, startOurs, startRabbitMQ } from './brokers.js';
import { holdIdlePolling } from './idle-polling.js';
import { buildCProgram } from './latency-c/c-latency.js';
import { describeMachine, type Machine } from './machine.js';
import { procCpuSeconds, procMemory } from './proc-stats.js';
import { profileMarkdown } from './profile-summary.js';
import { type BenchLine, markdownReport } from './report.js';
import { SCENARIOS } from './scenarios.js';
import { TARGETS } from './targets.js';

const LOAD = fileURLToPath(new URL('./load.js', import.meta.url));
const RESULTS = fileURLToPath(new URL('../../bench/results/', import.meta.url));
const GENERATOR_TIMEOUT_MS = 10 * 60_000;
const DEFAULT_PROFILED = ['transient-16b-autoack', 'fanout-10'];
/** The ceiling runs are shorter: the null broker does not warm up. */
const CEILING_SCALE = 0.5;

const { values } = parseArgs({
  options: {
    scenarios: { type: 'string' },
    runs: { type: 'string', default: '3' },
    scale: { type: 'string', default: '1' },
    'skip-ceiling': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'broker-cpu': { type: 'string', default: '1' },
    'generator-cpu': { type: 'string', default: '0' },
    port: { type: 'string', default: '5680' },
    'rabbitmq-port': { type: 'string', default: '5674' },
    'null-port': { type: 'string', default: '5699' },
    'report-from': { type: 'string' },
    'no-idle-poll': { type: 'boolean', default: false },
  },
  strict: true,
});

const runs = Number(values.runs);
const scale = Number(values.scale);
const brokerCpus = values['broker-cpu'];
const generatorCpus = values['generator-cpu'];
const scenarioNames = values.scenarios?.split(',').filter((s) => s !== '') ?? (values.profile ? DEFAULT_PROFILED : [...SCENARIOS.keys()]);
for (const s of scenarioNames) if (!SCENARIOS.has(s)) throw new Error(`unknown scenario '${s}'; known: ${[...SCENARIOS.keys()].join(', ')}`);
if (!(runs >= 1 && scale > 0)) throw new Error('--runs must be at least 1 and --scale positive');

const running = new Set<RunningBroker>();
const progress = (line: string): void => void process.stderr.write(`${line}\n`);

async function start(name: 'ours' | 'rabbitmq' | 'null' | 'floor', work: string, label: string, nodeArgs?: readonly string[]): Promise<RunningBroker> {
  const port = Number(name === 'ours' ? values.port : name === 'rabbitmq' ? values['rabbitmq-port'] : values['null-port']);
  // Something else on the port would be measured in the broker's place.
  if (!(await portFree(port))) throw new Error(`port ${port} is in use: pick another with --${name === 'ours' ? 'port' : name === 'rabbitmq' ? 'rabbitmq-port' : 'null-port'}`);
  const dir = join(work, `${name}-${label}`);
  const broker =
    name === 'ours'
      ? await startOurs({ port, dataDir: join(dir, 'data'), logFile: `${dir}.log`, cpus: brokerCpus, ...(nodeArgs === undefined ? {} : { nodeArgs }) })
      : name === 'rabbitmq'
        ? await startRabbitMQ({ port, dir, cpus: brokerCpus })
        : await startNullBroker({ port, cpus: brokerCpus, echo: name === 'floor' });
  running.add(broker);
  return broker;
}

/** Runs `measure` with the CPUs held out of their idle states (idle-polling.ts), unless --no-idle-poll; the line says which. */
async function withIdlePolling(measure: () => Promise<BenchLine>): Promise<BenchLine> {
  const release = values['no-idle-poll'] ? undefined : holdIdlePolling();
  try {
    return { ...(await measure()), idlePolling: release !== undefined };
  } finally {
    release?.();
  }
}

const CPU_STALL_SECONDS = 5;

/** How often the generator's and the brokers' CPUs stop a spinning thread (latency-c/cpu-stalls.c): one line per CPU. */
async function cpuStalls(run: number): Promise<BenchLine[]> {
  const binary = buildCProgram('cpu-stalls');
  const lines: BenchLine[] = [];
  for (const [role, cpu] of [['generator', generatorCpus], ['broker', brokerCpus]] as const) {
    const out = await new Promise<string>((resolve, reject) => {
      execFile('taskset', ['-c', cpu, binary, String(CPU_STALL_SECONDS)], { timeout: (CPU_STALL_SECONDS + 10) * 1000 }, (err, stdout) => (err === null ? resolve(stdout) : reject(err)));
    });
    const line: BenchLine = { ...(JSON.parse(out) as Record<string, unknown>), scenario: 'cpu-stalls', broker: `${role} CPU ${cpu}`, run };
    progress(`[run ${run}/${runs}] cpu-stalls on the ${role} CPU ${cpu}: ${String(line['stallsOver100UsPerSecond'])}/s over 100 µs, worst ${String(line['worstStallUs'])} µs`);
    lines.push(line);
  }
  return lines;
}

/** A scenario judged by its latency percentiles, also measured against the floor. */
const isLatencyScenario = (s: string): boolean => TARGETS.some((t) => t.scenario === s && t.metric === 'p99Us');

async function stop(broker: RunningBroker): Promise<void> {
  running.delete(broker);
  await broker.stop();
}

/** Runs one scenario in a generator process pinned to the generator CPU; its JSON line, or the error. */
function generate(scenario: string, broker: RunningBroker, run: number, scenarioScale: number): Promise<BenchLine> {
  const args = ['-c', generatorCpus, process.execPath, LOAD, '--url', broker.url.href, '--scenario', scenario, '--pid', String(broker.pid), '--label', broker.name, '--scale', String(scenarioScale)];
  return new Promise((resolve) => {
    const child = spawn('taskset', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), GENERATOR_TIMEOUT_MS);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').pop() ?? '';
      try {
        if (code !== 0) throw new Error();
        resolve({ ...(JSON.parse(last) as Record<string, unknown>), scenario, broker: broker.name, run });
      } catch {
        const why = err.trim().split('\n')[0] ?? '';
        resolve({ scenario, broker: broker.name, run, error: `generator exited with ${code ?? signal}: ${why}` });
      }
    });
  });
}

function describe(l: BenchLine): string {
  if (l.error !== undefined) return `ERROR ${l.error}`;
  const cpu = l['brokerCpuUsPerMsg'] === undefined ? '' : `, broker ${String(l['brokerCpuUsPerMsg'])} µs/unit`;
  const rss = l['brokerRssMiB'] === undefined ? '' : `, RSS ${String(l['brokerRssMiB'])} MiB`;
  const p99 = l['p99Us'] === undefined ? '' : `, p50 ${String(l['p50Us'])} µs, p99 ${String(l['p99Us'])} µs`;
  return `${String(l['value'])} ${l.unit ?? ''}${cpu}${rss}${p99}`;
}

/** The startup-time line for a broker just started (fresh data directory). */
function startupLine(broker: RunningBroker, run: number): BenchLine {
  const mem = procMemory(broker.pid);
  return {
    scenario: 'startup-time',
    broker: broker.name,
    run,
    unit: 'ms',
    value: Math.round(broker.startupMs),
    rate: 1000 / broker.startupMs,
    brokerCpuMs: Math.round(procCpuSeconds(broker.pid) * 1000),
    brokerRssMiB: Math.round((mem.rss / 2 ** 20) * 10) / 10,
  };
}

async function ceiling(work: string): Promise<BenchLine[]> {
  const names = scenarioNames.filter((s) => TARGETS.some((t) => t.scenario === s && t.rateFactor !== undefined));
  if (values['skip-ceiling'] || names.length === 0) return [];
  progress(`-- generator ceiling against the null broker: ${names.join(', ')}`);
  const sink = await start('null', work, 'ceiling');
  const lines: BenchLine[] = [];
  try {
    for (const s of names) {
      const line = await generate(s, sink, 0, scale * CEILING_SCALE);
      progress(`[ceiling] ${s}: ${describe(line)}, generator ${String(line['generatorCpuPct'])}% CPU`);
      lines.push(line);
    }
  } finally {
    await stop(sink);
  }
  return lines;
}

async function compare(work: string): Promise<BenchLine[]> {
  const lines: BenchLine[] = [];
  const load = scenarioNames.filter((s) => !SCENARIOS.get(s)!.runnerOnly);
  const measureOrder = [...load.filter((s) => SCENARIOS.get(s)!.freshBroker), ...load.filter((s) => !SCENARIOS.get(s)!.freshBroker)];
  const withFloor = measureOrder.some(isLatencyScenario);
  for (let run = 1; run <= runs; run++) {
    const pair = run % 2 === 1 ? (['ours', 'rabbitmq'] as const) : (['rabbitmq', 'ours'] as const);
    const order = withFloor ? [...pair, 'floor' as const] : pair;
    const brokers: RunningBroker[] = [];
    // Before the brokers start: what the CPUs do with nothing of the benchmark's on them.
    if (withFloor) lines.push(...(await cpuStalls(run)));
    try {
      // One at a time, so neither start shares the CPU with the other.
      for (const name of order) {
        const b = await start(name, work, `run${run}`);
        brokers.push(b);
        progress(`[run ${run}/${runs}] ${name} started in ${Math.round(b.startupMs)} ms (pid ${b.pid})`);
        if (scenarioNames.includes('startup-time') && name !== 'floor') lines.push(startupLine(b, run));
      }
      for (const s of measureOrder) {
        for (const b of brokers) {
          if (b.name === 'floor' && !isLatencyScenario(s)) continue;
          const line = isLatencyScenario(s) ? await withIdlePolling(() => generate(s, b, run, scale)) : await generate(s, b, run, scale);
          progress(`[run ${run}/${runs}] ${s} ${b.name}: ${describe(line)}`);
          lines.push(line);
        }
      }
    } finally {
      for (const b of brokers) await stop(b);
    }
    // The data directories can hold a GiB of persistent messages; the logs stay.
    await rm(join(work, `ours-run${run}`, 'data'), { recursive: true, force: true });
    await rm(join(work, `rabbitmq-run${run}`, 'mnesia'), { recursive: true, force: true });
  }
  return lines;
}

/** --profile: this broker alone under node --cpu-prof, one fresh broker per scenario, summaries to bench/results/. */
async function profile(work: string): Promise<void> {
  for (const s of scenarioNames) {
    const dir = join(work, `profile-${s}`);
    const broker = await start('ours', work, `profile-${s}`, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
    let line: BenchLine;
    try {
      line = await generate(s, broker, 1, scale);
    } finally {
      await stop(broker);
    }
    progress(`[profile] ${s}: ${describe(line)}`);
    const file = (await readdir(dir)).find((f) => f.endsWith('.cpuprofile'));
    if (file === undefined) throw new Error(`no .cpuprofile in ${dir}`);
    const kept = join(RESULTS, 'profiles', `${s}.cpuprofile`);
    await mkdir(join(RESULTS, 'profiles'), { recursive: true });
    await copyFile(join(dir, file), kept);
    const md = `${profileMarkdown(`${s}: ${describe(line)}`, relative(process.cwd(), kept))}\n`;
    await writeFile(join(RESULTS, `profile-${s}.md`), md);
    process.stdout.write(md);
  }
}

async function main(): Promise<void> {
  if (values['report-from'] !== undefined) return rerender(values['report-from']);
  const work = await mkdtemp(join(tmpdir(), 'bench-compare-'));
  const startedAt = new Date();
  const loadBefore = describeMachine().loadAverage;
  progress(`work directory ${work} (broker logs; removed after a clean run); scenarios ${scenarioNames.join(', ')}; ${runs} run(s), scale ${scale}`);
  await mkdir(RESULTS, { recursive: true });
  if (values.profile) {
    await profile(work);
    await rm(work, { recursive: true, force: true });
    return;
  }
  ensureRabbitMQ();
  const ceilingLines = await ceiling(work);
  const lines = await compare(work);
  const args = process.argv.slice(2).join(' ');
  const raw: RawResults = {
    date: startedAt.toISOString(),
    machine: { ...describeMachine(), loadBefore },
    versions: { RabbitMQ: packageVersion('rabbitmq-server'), Erlang: packageVersion('erlang-base') },
    config: { runs, scale, ceilingScale: scale * CEILING_SCALE, scenarios: scenarioNames, brokerCpus, generatorCpus, command: args === '' ? 'npm run bench' : `npm run bench -- ${args}` },
    ceiling: ceilingLines,
    lines,
  };
  const stamp = startedAt.toISOString().slice(0, 19).replace(/:/g, '-');
  await writeFile(join(RESULTS, `compare-${stamp}.json`), `${JSON.stringify(raw, null, 2)}\n`);
  await writeReport(raw, `compare-${stamp}`);
  if ([...ceilingLines, ...lines].some((l) => l.error !== undefined)) progress(`some runs failed: broker logs kept in ${work}`);
  else await rm(work, { recursive: true, force: true });
}

/** What compare-<date>.json holds. */
interface RawResults {
  readonly date: string;
  readonly machine: Machine & { readonly loadBefore: readonly number[] };
  readonly versions: Readonly<Record<string, string>>;
  readonly config: {
    readonly runs: number;
    readonly scale: number;
    readonly ceilingScale: number;
    readonly scenarios: readonly string[];
    readonly brokerCpus: string;
    readonly generatorCpus: string;
    readonly command: string;
  };
  readonly ceiling: readonly BenchLine[];
  readonly lines: readonly BenchLine[];
}

/** <name>.md and compare-latest.md from the raw results. */
async function writeReport(raw: RawResults, name: string): Promise<void> {
  const { loadBefore, ...machine } = raw.machine;
  const md = markdownReport({ ...raw.config, date: raw.date, machine, loadBefore, versions: raw.versions, lines: raw.lines, ceiling: raw.ceiling, rawFile: `${name}.json` });
  await writeFile(join(RESULTS, `${name}.md`), md);
  await writeFile(join(RESULTS, 'compare-latest.md'), md);
  process.stdout.write(md);
  progress(`results in ${RESULTS}${name}.{md,json} and compare-latest.md`);
}

async function rerender(file: string): Promise<void> {
  const raw = JSON.parse(await readFile(file, 'utf8')) as RawResults;
  await writeReport(raw, basename(file, '.json'));
}

runStoppingBrokers(main, running, (b) => stop(b), progress);
