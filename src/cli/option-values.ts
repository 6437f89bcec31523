/** Parsers for option values shared by the command line's option groups. */

export function parsePort(what: string, text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid ${what} '${text}'`);
  return port;
}

export function parseCount(what: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new Error(`invalid ${what} '${text}' (a whole number)`);
  return Number(text);
}

export function isSet(flag: string | undefined): boolean {
  return ['1', 'true'].includes(flag ?? '');
}

/** host:port, with an IPv6 host in brackets. */
export function parseHostPort(what: string, text: string): { host: string; port: number } {
  const m = /^(.+):(\d+)$/.exec(text);
  if (m === null) throw new Error(`invalid ${what} '${text}' (host:port)`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port: parsePort(what, m[2]!) };
}
