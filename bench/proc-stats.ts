import { readdirSync, readFileSync } from 'node:fs';

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
const CLOCK_TICKS_PER_SECOND = 100;

/** VmRSS and VmHWM (peak RSS) of a process in bytes, from /proc/<pid>/status. */
export function procMemory(pid: number): { rss: number; peakRss: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peakRss: kb('VmHWM') };
}

/** CPU seconds (user + system, all threads) a process has used so far. */
export function procCpuSeconds(pid: number): number {
  // utime and stime are the 14th and 15th fields; the command name before them is parenthesised and may hold spaces.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/**
 * Seconds the process's threads have spent runnable but waiting for a CPU
 * (the second field of /proc/<pid>/task/<tid>/schedstat, summed): how much
 * other work on the same CPUs held it back.
 */
export function procRunqueueWaitSeconds(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return ns / 1e9;
}

/** The CPU numbers a process may run on (Cpus_allowed_list of /proc/<pid>/status, e.g. "1" or "0-1,3"). */
function allowedCpus(pid: number): number[] {
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
  return list.split(',').flatMap((range) => {
    const [from, to = from] = range.split('-').map(Number);
    return Array.from({ length: to! - from! + 1 }, (_, i) => from! + i);
  });
}

/**
 * Seconds the hypervisor ran something else while the CPUs this process may
 * use wanted to run ("steal" in /proc/stat, summed over those CPUs). Inside
 * a VM, time that neither the process nor anything else in the VM got, and
 * that no scheduler statistic of the VM shows.
 */
export function procCpusStolenSeconds(pid: number): number {
  const cpus = new Set(allowedCpus(pid).map((n) => `cpu${n}`));
  let ticks = 0;
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const fields = line.split(' ');
    // cpuN user nice system idle iowait irq softirq steal …
    if (cpus.has(fields[0]!)) ticks += Number(fields[8]);
  }
  return ticks / CLOCK_TICKS_PER_SECOND;
}

/**
 * Seconds the CPUs this process may use were busy (user, nice, system, irq,
 * softirq in /proc/stat, summed over those CPUs), whatever ran: less the
 * process's own CPU time, the other work on its CPUs.
 */
export function procCpusBusySeconds(pid: number): number {
  const cpus = new Set(allowedCpus(pid).map((n) => `cpu${n}`));
  let ticks = 0;
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (cpus.has(f[0]!)) ticks += Number(f[1]) + Number(f[2]) + Number(f[3]) + Number(f[6]) + Number(f[7]);
  }
  return ticks / CLOCK_TICKS_PER_SECOND;
}

/** A broker's CPU counters at one moment (NaN without a pid), for the figures of a measured window. */
export interface BrokerSample {
  readonly cpu: number;
  readonly wait: number;
  readonly stolen: number;
}

export function sampleBroker(pid: number | undefined): BrokerSample {
  if (pid === undefined) return { cpu: NaN, wait: NaN, stolen: NaN };
  return { cpu: procCpuSeconds(pid), wait: procRunqueueWaitSeconds(pid), stolen: procCpusStolenSeconds(pid) };
}

export interface BrokerWindow {
  readonly brokerCpuUsPerMsg: number;
  readonly brokerCpuPct: number;
  /** Share of the window the broker's threads spent runnable but waiting for a CPU (other work competing). */
  readonly brokerCpuWaitPct: number;
  /** Share of the window the hypervisor took from the broker's CPUs (steal). */
  readonly brokerCpuStolenPct: number;
}

/** The broker's CPU figures between two samples `seconds` apart, in which `units` were counted. */
export function brokerWindow(start: BrokerSample, end: BrokerSample, seconds: number, units: number): BrokerWindow {
  const cpu = end.cpu - start.cpu;
  return {
    brokerCpuUsPerMsg: Math.round((cpu * 1e8) / units) / 100,
    brokerCpuPct: Math.round((cpu / seconds) * 100),
    brokerCpuWaitPct: Math.round(((end.wait - start.wait) / seconds) * 100),
    brokerCpuStolenPct: Math.round(((end.stolen - start.stolen) / seconds) * 100),
  };
}
