/**
 * Issue 5's targets, each against RabbitMQ measured in the same run (or an
 * absolute bound), and the issue's own RabbitMQ figures for context.
 */

export interface Target {
  readonly scenario: string;
  /** The field of the scenario's JSON line compared. */
  readonly metric: string;
  readonly label: string;
  readonly goal: string;
  /** Medians of ours and RabbitMQ's (undefined when RabbitMQ was not measured). */
  readonly pass: (ours: number, rabbitmq: number | undefined) => boolean | undefined;
  /** The factor applied to RabbitMQ's rate, for throughput targets (what the generator must outrun). */
  readonly rateFactor?: number;
  /** For "at most a fraction of RabbitMQ's" targets: that fraction. */
  readonly fractionOfRabbitMQ?: number;
}

const atLeast = (scenario: string, factor: number): Target => ({
  scenario,
  metric: 'value',
  label: 'rate',
  goal: `≥ ${factor}× RabbitMQ`,
  pass: (o, r) => (r === undefined ? undefined : o >= factor * r),
  rateFactor: factor,
});

const atMost = (scenario: string, metric: string, label: string, fraction: string, factor: number): Target => ({
  scenario,
  metric,
  label,
  goal: `≤ ${fraction} of RabbitMQ`,
  pass: (o, r) => (r === undefined ? undefined : o <= factor * r),
  fractionOfRabbitMQ: factor,
});

const below = (scenario: string, metric: string, label: string, bound: number, unit: string): Target => ({
  scenario,
  metric,
  label,
  goal: `< ${bound} ${unit}`,
  pass: (o) => o < bound,
});

const TRANSIENT = ['transient-16b-autoack', 'transient-1k-autoack', 'transient-16b-manual-ack', 'transient-1k-manual-ack'];

export const TARGETS: readonly Target[] = [
  ...TRANSIENT.flatMap((s) => [atLeast(s, 2), below(s, 'brokerCpuUsPerMsg', 'broker CPU µs/msg', 7, 'µs')]),
  atLeast('persistent-1k-confirm-1000', 3),
  atLeast('persistent-1k-confirm-100', 2),
  atLeast('fanout-10', 2),
  atLeast('topic-100-bindings', 4),
  atMost('latency-1k-rate', 'p99Us', 'p99 µs', '1/2', 1 / 2),
  atMost('latency-1k-rate-c', 'p99Us', 'p99 µs', '1/2', 1 / 2),
  atMost('idle-connections-1000', 'value', 'KiB per connection', '1/2', 1 / 2),
  atMost('waiting-1m-16b', 'value', 'RSS MiB', '1/8', 1 / 8),
  below('startup-time', 'value', 'ms to accept', 300, 'ms'),
];

/** RabbitMQ 3.10.8 on the issue's 2-core machine, unpinned, with a C load generator. */
export const ISSUE_RABBITMQ_FIGURES: Readonly<Record<string, string>> = {
  'transient-16b-autoack': '62k msg/s, 27 µs CPU/msg',
  'transient-1k-autoack': '43k msg/s',
  'transient-16b-manual-ack': '31k msg/s',
  'persistent-1k-confirm-1000': '10.8k msg/s',
  'fanout-10': '62k deliveries/s',
  'topic-100-bindings': '14k msg/s',
  'latency-1k-rate': 'p50 195 µs, p99 1.7 ms',
  'latency-1k-rate-c': 'p50 195 µs, p99 1.7 ms',
  'idle-connections-1000': '62 KiB/connection',
  'waiting-1m-16b': '2.8 GiB',
};
