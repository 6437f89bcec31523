/** Small helpers the benchmark command lines share: environment numbers, progress lines, rounding. */
export const MiB = 1024 * 1024;

/** A positive number from the environment, or the fallback when the variable is unset or empty. */
export function envNumber(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, not '${text}'`);
  return n;
}

/** One line of progress on stderr (stdout is kept for results). */
export function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

export const round = (n: number, places = 1): number => Math.round(n * 10 ** places) / 10 ** places;
