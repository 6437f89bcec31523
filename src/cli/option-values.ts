/** Parsers for option values shared by the command line's option groups. */

export function parseCount(what: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new Error(`invalid ${what} '${text}' (a whole number)`);
  return Number(text);
}

export function isSet(flag: string | undefined): boolean {
  return ['1', 'true'].includes(flag ?? '');
}
