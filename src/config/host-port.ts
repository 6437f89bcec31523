/** Ports and host:port addresses, as options and etcd's records give them. */

export function parsePort(what: string, text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid ${what} '${text}'`);
  return port;
}

/** host:port, with an IPv6 host in brackets. */
export function parseHostPort(what: string, text: string): { host: string; port: number } {
  const m = /^(.+):(\d+)$/.exec(text);
  if (m === null) throw new Error(`invalid ${what} '${text}' (host:port)`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port: parsePort(what, m[2]!) };
}
