/**
 * RabbitMQ removes CR and LF from the queue and exchange names that the
 * exchange and queue classes' declare, delete, bind and unbind carry (not
 * from queue.purge's, nor from the basic class's), so a declare of "q\n"
 * makes q, and every later reference to q finds it. `m` itself comes back
 * when no name holds either.
 */
export function withoutCrLf<M, K extends keyof M>(m: M, ...names: K[]): M {
  let stripped: M | undefined;
  for (const key of names) {
    const name = m[key];
    if (typeof name !== 'string' || !/[\r\n]/.test(name)) continue;
    stripped ??= { ...m };
    stripped[key] = name.replace(/[\r\n]/g, '') as M[K];
  }
  return stripped ?? m;
}
