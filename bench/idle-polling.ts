/**
 * Keeps the CPUs out of their idle (halt) states while held, through the
 * kernel's PM QoS interface: /dev/cpu_dma_latency holds a latency bound
 * (here 0 µs) for as long as the file stays open. On a VM a halted vCPU is
 * handed back to the host, and waking it for the next packet costs tens to
 * hundreds of µs, outside either broker; latency benchmarks normally run
 * with the idle states held shallow like this, as tuned's
 * latency-performance profile does.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

const PM_QOS_FILE = '/dev/cpu_dma_latency';

/** Holds idle polling until the returned release is called; undefined when the file can't be opened (not root, no such device). */
export function holdIdlePolling(): (() => void) | undefined {
  let fd: number;
  try {
    fd = openSync(PM_QOS_FILE, 'w');
  } catch {
    return undefined;
  }
  const zero = Buffer.alloc(4);
  try {
    writeSync(fd, zero);
  } catch {
    closeSync(fd);
    return undefined;
  }
  return () => closeSync(fd);
}
