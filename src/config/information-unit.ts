/** A unit prefix's power of 1000 (k, M…) or of 1024 (Ki, Mi…). */
const POWERS: Readonly<Record<string, number>> = { k: 1, m: 2, g: 3, t: 4, p: 5 };

const AMOUNT = /^(\d+)(?:([kmgtp])(i?)b?)?$/i;

/**
 * A byte count written as RabbitMQ's configuration writes one
 * (disk_free_limit.absolute, vm_memory_high_watermark.absolute): an integer,
 * optionally followed by a unit. As in RabbitMQ 3.13, k, M, G, T, P (with or
 * without B) are powers of 1000 and Ki, Mi, Gi, Ti, Pi (with or without B)
 * powers of 1024, in any letter case. Undefined when the text is not one.
 */
export function parseInformationUnit(text: string): number | undefined {
  const match = AMOUNT.exec(text.trim());
  if (match === null) return undefined;
  const [, digits = '', prefix, binary] = match;
  const power = prefix === undefined ? 0 : (POWERS[prefix.toLowerCase()] ?? 0);
  const bytes = Number(digits) * (binary ? 1024 : 1000) ** power;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
