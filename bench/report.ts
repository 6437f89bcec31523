/**
 * The comparison's markdown: targets with medians, ratios and pass/fail,
 * the per-broker details, and the generator's ceiling against the null
 * broker.
 */
import { type Machine, machineLine } from './machine.js';
import { ISSUE_RABBITMQ_FIGURES, TARGETS } from './targets.js';

/** One JSON line of a scenario run, tagged by the runner. */
export interface BenchLine {
  readonly scenario: string;
  readonly broker: string;
  readonly run: number;
  readonly unit?: string;
  readonly error?: string;
  readonly [field: string]: unknown;
}

export interface ReportInput {
  readonly date: string;
  readonly machine: Machine;
  readonly loadBefore: readonly number[];
  readonly versions: Readonly<Record<string, string>>;
  readonly runs: number;
  readonly scale: number;
  readonly brokerCpus: string;
  readonly generatorCpus: string;
  readonly scenarios: readonly string[];
  readonly lines: readonly BenchLine[];
  readonly ceiling: readonly BenchLine[];
  /** The scale the ceiling runs used. */
  readonly ceilingScale: number;
  readonly rawFile: string;
  readonly command: string;
}

/** The ceiling must be at least this multiple of the highest target rate. */
const CEILING_MARGIN = 3;

function median(xs: readonly number[]): number | undefined {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median of a field over the runs of one scenario on one broker. */
function medianOf(lines: readonly BenchLine[], scenario: string, broker: string, field: string): number | undefined {
  return median(lines.filter((l) => l.scenario === scenario && l.broker === broker && l.error === undefined).map((l) => Number(l[field])));
}

function fmt(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  const abs = Math.abs(n);
  if (abs >= 100_000) return `${Math.round(n / 1000)}k`;
  if (abs >= 10_000) return `${(n / 1000).toFixed(1)}k`;
  if (abs >= 100) return String(Math.round(n));
  if (abs >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

const ratio = (o: number | undefined, r: number | undefined): string => (o === undefined || r === undefined || r === 0 ? '–' : `${(o / r).toFixed(2)}×`);
const verdict = (p: boolean | undefined): string => (p === undefined ? '–' : p ? 'pass' : '**FAIL**');

/** The rate a throughput target asks of this broker: its factor × RabbitMQ's median. */
function targetRate(lines: readonly BenchLine[], scenario: string): number | undefined {
  const t = TARGETS.find((x) => x.scenario === scenario && x.rateFactor !== undefined);
  const r = medianOf(lines, scenario, 'rabbitmq', 'value');
  return t === undefined || r === undefined ? undefined : r * t.rateFactor!;
}

function targetsTable(r: ReportInput): string[] {
  const rows = TARGETS.filter((t) => r.scenarios.includes(t.scenario)).map((t) => {
    const o = medianOf(r.lines, t.scenario, 'ours', t.metric);
    const q = medianOf(r.lines, t.scenario, 'rabbitmq', t.metric);
    return `| ${t.scenario} | ${t.label} | ${fmt(o)} | ${fmt(q)} | ${ratio(o, q)} | ${t.goal} | ${o === undefined ? '–' : verdict(t.pass(o, q))} |`;
  });
  return ['| scenario | metric | ours | RabbitMQ | ours/RabbitMQ | target | result |', '| --- | --- | --- | --- | --- | --- | --- |', ...rows];
}

/** How the latency runs were taken, then for each latency target the floor's percentiles beside the bound the target sets. */
function latencyNotes(r: ReportInput): string[] {
  const latency = r.lines.filter((l) => l['idlePolling'] !== undefined);
  const held = latency.filter((l) => l['idlePolling'] === true).length;
  const conditions =
    latency.length === 0
      ? []
      : [
          held === latency.length
            ? 'Latency runs held the CPUs out of their idle states (/dev/cpu_dma_latency at 0 µs, bench/idle-polling.ts), so that a halted vCPU handed back to the hypervisor does not add its wake-up to every message; `--no-idle-poll` measures without.'
            : held === 0
              ? 'Latency runs left the CPUs\' idle states as the machine has them (halting when idle; on a VM each wake-up goes through the hypervisor).'
              : `Only ${held} of ${latency.length} latency runs could hold the CPUs out of their idle states (/dev/cpu_dma_latency): compare them with care.`,
        ];
  const stallCpus = [...new Set(r.lines.filter((l) => l.scenario === 'cpu-stalls').map((l) => l.broker))];
  const stalls = stallCpus.map((cpu) => {
    const m = (field: string): string => fmt(medianOf(r.lines, 'cpu-stalls', cpu, field));
    return `${cpu}: ${m('stallsOver100UsPerSecond')}/s over 100 µs, ${m('stallsOver300UsPerSecond')}/s over 300 µs, worst ${m('worstStallUs')} µs, ${m('stalledPct')} % of the time`;
  });
  const stallNote =
    stalls.length === 0
      ? []
      : [`The machine's own stalls (bench/latency-c/cpu-stalls.c: a thread spinning alone on each CPU for 5 s at the start of each run, before the brokers start; medians): ${stalls.join('; ')}. Every message path crosses both CPUs, so stalls like these set the tail any broker can show here.`];
  return [...conditions, ...stallNote, ...TARGETS.filter((t) => t.metric === 'p99Us' && r.lines.some((l) => l.scenario === t.scenario && l.broker === 'floor')).map((t) => {
    const p50 = medianOf(r.lines, t.scenario, 'floor', 'p50Us');
    const p99 = medianOf(r.lines, t.scenario, 'floor', 'p99Us');
    const rabbit = medianOf(r.lines, t.scenario, 'rabbitmq', 'p99Us');
    const bound = rabbit === undefined || t.fractionOfRabbitMQ === undefined ? undefined : rabbit * t.fractionOfRabbitMQ;
    const where = bound === undefined || p99 === undefined ? '' : bound < p99 ? ': the target lies below the floor' : ': the floor leaves room under the target';
    return `Latency floor, ${t.scenario}: p50 ${fmt(p50)} µs, p99 ${fmt(p99)} µs against the null broker in echo mode (a broker doing no work, same generator and CPUs, measured in the same runs); the target's bound is ${fmt(bound)} µs${where}.`;
  })];
}

function detailsTable(r: ReportInput): string[] {
  const rows: string[] = [];
  for (const s of r.scenarios) {
    for (const broker of ['ours', 'rabbitmq', 'floor']) {
      const runs = r.lines.filter((l) => l.scenario === s && l.broker === broker);
      if (runs.length === 0) continue;
      const ok = runs.filter((l) => l.error === undefined);
      const m = (field: string): string => fmt(medianOf(r.lines, s, broker, field));
      const unit = ok[0]?.unit ?? '';
      const values = ok.map((l) => fmt(Number(l['value']))).join(', ');
      rows.push(
        `| ${s} | ${broker} | ${m('value')} ${unit} (${values}) | ${m('rate')} | ${m('brokerCpuUsPerMsg')} | ${m('brokerCpuPct')} | ${m('brokerCpuWaitPct')} | ${m('generatorCpuWaitPct')} | ${m('brokerCpuStolenPct')} / ${m('generatorCpuStolenPct')} | ${m('brokerRssMiB')} | ${m('generatorCpuUsPerMsg')} | ${m('p50Us')} / ${m('p99Us')} | ${ok.length}/${runs.length} | ${broker === 'rabbitmq' ? (ISSUE_RABBITMQ_FIGURES[s] ?? '') : ''} |`,
      );
    }
  }
  return [
    '| scenario | broker | median (each run) | rate | broker CPU µs/unit | broker CPU % | broker waited for CPU % | generator waited % | stolen by the host %: broker / generator CPU | broker RSS MiB | generator µs/unit | p50 / p99 µs | runs ok | issue\'s RabbitMQ figure |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ];
}

function ceilingSection(r: ReportInput): string[] {
  if (r.ceiling.length === 0) return [];
  const targets = r.ceiling.map((l) => ({ scenario: l.scenario, rate: targetRate(r.lines, l.scenario) }));
  const highest = targets.reduce<{ scenario: string; rate: number } | undefined>((h, t) => (t.rate !== undefined && (h === undefined || t.rate > h.rate) ? { scenario: t.scenario, rate: t.rate } : h), undefined);
  const ok = r.ceiling.filter((l) => l.error === undefined);
  const lowest = ok.length === 0 ? undefined : Math.min(...ok.map((l) => Number(l['value'])));
  const lowestCpuBound = ok.length === 0 ? undefined : Math.min(...ok.map((l) => 1e6 / Number(l['generatorCpuUsPerMsg'])));
  const rows = r.ceiling.map((l) => {
    if (l.error !== undefined) return `| ${l.scenario} | error: ${l.error} | | | | | | | |`;
    const us = Number(l['generatorCpuUsPerMsg']);
    const rate = Number(l['value']);
    const target = targetRate(r.lines, l.scenario);
    const margin = target === undefined ? '–' : `${(rate / target).toFixed(1)}×`;
    return `| ${l.scenario} | ${fmt(rate)} ${l.unit ?? ''} | ${fmt(Number(l['generatorCpuPct']))} | ${fmt(Number(l['generatorCpuWaitPct']))} | ${fmt(Number(l['brokerCpuWaitPct']))} | ${fmt(us)} | ${fmt(1e6 / us)} | ${fmt(target)} | ${margin} |`;
  });
  const summary =
    highest === undefined || lowest === undefined
      ? 'No RabbitMQ rate measured in this run, so no target rate to compare with.'
      : [
          `Highest target rate: ${fmt(highest.rate)}/s (${highest.scenario}). `,
          `The lowest rate the generator reached against the null broker, in any scenario, is ${fmt(lowest)}/s = ${(lowest / highest.rate).toFixed(1)}× that (needs ≥ ${CEILING_MARGIN}×): ${verdict(lowest >= CEILING_MARGIN * highest.rate)}. `,
          `The lowest CPU-bound ceiling is ${fmt(lowestCpuBound)}/s = ${(lowestCpuBound! / highest.rate).toFixed(1)}× (${verdict(lowestCpuBound! >= CEILING_MARGIN * highest.rate)}): `,
          'where the two disagree, the "waited" columns say whether the generator or the null broker was kept off its CPU by other work.',
        ].join('');
  return [
    '## Load generator ceiling',
    '',
    `The same scenarios against the null broker (bench/null-broker.ts: handshake, -ok replies, publishes discarded and confirmed, deliveries streamed from a copy of the first message), null broker on CPU ${r.brokerCpus}, generator on CPU ${r.generatorCpus}, scale ${r.ceilingScale}. "CPU-bound ceiling" is 1 s over the generator's CPU per unit: what one core of it could drive. "Target rate" is the scenario's factor × RabbitMQ's median in this run; "margin" the generator's rate over it. Below 100 % generator CPU the generator was waiting on round trips (manual acks within a prefetch of 100, confirms within the window), not on itself.`,
    '',
    '| scenario | rate | generator CPU % | generator waited for CPU % | null broker waited % | generator µs/unit | CPU-bound ceiling /s | target rate /s | margin |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    summary,
    '',
  ];
}

export function markdownReport(r: ReportInput): string {
  const versions = Object.entries(r.versions)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const errors = [...r.lines, ...r.ceiling].filter((l) => l.error !== undefined);
  const busy = Math.max(r.loadBefore[0] ?? 0, r.machine.loadAverage[0] ?? 0) >= 1;
  return [
    `# This broker vs RabbitMQ, ${r.date}`,
    '',
    `Machine: ${machineLine(r.machine)}; ${versions}. Load average ${r.loadBefore.join(' ')} before, ${r.machine.loadAverage.join(' ')} after (anything near or above 1 means other work shared the CPUs and the numbers are noisy).`,
    '',
    ...(busy ? ['**Busy machine**: the 1-minute load average was at or above 1, so other processes competed for both CPUs during this run; treat every number as noisy and rerun on a quiet machine before drawing conclusions.', ''] : []),
    `Both brokers pinned to CPU ${r.brokerCpus} (taskset), the load generator to CPU ${r.generatorCpus}; each broker on its own port and a fresh data directory per run; ${r.runs} run(s), scenarios interleaved between the brokers (the order alternating per run); medians. Scale ${r.scale}. Throughput scenarios publish from 1 publisher connection, unpaced but at most a bounded number of messages ahead of the consumers, and measure after a 1 s warm-up. Broker CPU and RSS come from /proc/<pid> of the broker process (RabbitMQ's beam.smp). Raw JSON lines: ${r.rawFile}.`,
    '',
    '## Targets (issue 5)',
    '',
    ...targetsTable(r),
    '',
    ...latencyNotes(r).flatMap((note) => [note, '']),
    '## Details (medians over the runs)',
    '',
    '"Waited for CPU" is the time the process\'s threads were runnable but not running (/proc/<pid>/task/*/schedstat, summed over threads, so it can pass 100 %) as a share of the measured window: other work on the same CPU. Anything above a few % means that number was held back by something outside the benchmark. "Stolen by the host" is the steal time /proc/stat counts for the CPUs each process is pinned to: time the hypervisor gave to something outside this VM while that CPU had work, which no figure inside the VM shows otherwise; latency tails follow it.',
    '',
    'Units: msg/s consumed for point-to-point and topic, deliveries/s for fanout, confirmed msg/s for persistent; per-unit CPU divides by the same count. latency: value is the rate; idle-connections: KiB of RSS per connection; waiting: RSS MiB with the queue full; startup: ms from spawn to the first connection.start.',
    '',
    ...detailsTable(r),
    '',
    ...ceilingSection(r),
    ...(errors.length === 0 ? [] : ['## Errors', '', ...errors.map((l) => `- ${l.scenario} on ${l.broker} (run ${l.run}): ${l.error}`), '']),
    `Reproduce: \`${r.command}\``,
    '',
  ].join('\n');
}
