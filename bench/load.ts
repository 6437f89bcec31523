/**
 * The load generator's command line: runs one named scenario (optionally
 * adjusted by flags) against any AMQP URL and prints one JSON line.
 *
 *   npm run bench:load -- --url amqp://guest:guest@127.0.0.1:5672 --scenario transient-16b-autoack [--pid <broker pid>]
 *   npm run bench:load -- --list
 *
 * Flags that adjust the scenario's load: --size <bytes>, --count <messages>,
 * --seconds <s>, --publishers <n>, --confirm <in flight>, --no-ack,
 * --manual-ack, --prefetch <n>, --ack-every <n> (1: each message, n > 1:
 * multiple=true every n), --rate <msg/s>, --latency, --persistent,
 * --max-lag <messages>. --scale <f> shrinks counts and times (quick checks).
 * --label names the broker in the output.
 */
import { parseArgs } from 'node:util';
import type { LoadSpec } from './load/run-load.js';
import { SCENARIOS } from './scenarios.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'amqp://guest:guest@127.0.0.1:5672' },
    scenario: { type: 'string', default: 'transient-16b-autoack' },
    pid: { type: 'string' },
    label: { type: 'string' },
    scale: { type: 'string', default: '1' },
    list: { type: 'boolean', default: false },
    size: { type: 'string' },
    count: { type: 'string' },
    seconds: { type: 'string' },
    publishers: { type: 'string' },
    confirm: { type: 'string' },
    'no-ack': { type: 'boolean' },
    'manual-ack': { type: 'boolean' },
    prefetch: { type: 'string' },
    'ack-every': { type: 'string' },
    rate: { type: 'string' },
    latency: { type: 'boolean' },
    persistent: { type: 'boolean' },
    'max-lag': { type: 'string' },
  },
  strict: true,
});

function positive(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, not '${text}'`);
  return n;
}

/** The flags given, as load-spec fields. */
function overrides(): Partial<LoadSpec> {
  const o: { -readonly [K in keyof LoadSpec]?: LoadSpec[K] } = {};
  const set = <K extends keyof LoadSpec>(key: K, value: LoadSpec[K] | undefined): void => {
    if (value !== undefined) o[key] = value;
  };
  set('bodyBytes', positive('size', values.size));
  set('count', positive('count', values.count));
  set('seconds', positive('seconds', values.seconds));
  set('publishers', positive('publishers', values.publishers));
  set('confirmWindow', positive('confirm', values.confirm));
  set('prefetch', positive('prefetch', values.prefetch));
  set('ackEvery', positive('ack-every', values['ack-every']));
  set('rate', positive('rate', values.rate));
  set('maxLag', positive('max-lag', values['max-lag']));
  if (values['no-ack']) o.noAck = true;
  if (values['manual-ack']) o.noAck = false;
  if (values.latency) o.latency = true;
  if (values.persistent) o.persistent = true;
  return o;
}

async function main(): Promise<void> {
  if (values.list) {
    for (const s of SCENARIOS.values()) process.stdout.write(`${s.name.padEnd(28)} ${s.description}\n`);
    return;
  }
  const scenario = SCENARIOS.get(values.scenario);
  if (scenario === undefined) throw new Error(`unknown scenario '${values.scenario}' (--list shows them)`);
  const url = new URL(values.url);
  const pid = values.pid === undefined ? undefined : Number(values.pid);
  const r = await scenario.run({ url, pid, scale: positive('scale', values.scale) ?? 1, overrides: overrides() });
  const line = { scenario: scenario.name, broker: values.label ?? url.host, unit: scenario.unit, ...r };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`load generator failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
