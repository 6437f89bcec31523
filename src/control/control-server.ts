import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { AccessAdminError } from '../auth/access-admin.js';
import { CommandRefusal, type CommandOutput, type ControlledNode, runCommand, UsageError } from './commands.js';

/** A request larger than this is not a command line. */
const MAX_REQUEST_BYTES = 1024 * 1024;
/** The longest path a Unix socket may have on Linux (sun_path holds 108 bytes with its terminating zero). */
const MAX_SOCKET_PATH_BYTES = 107;
/** A client that sends no whole request within this long is dropped: it must not hold the broker's shutdown. */
const REQUEST_TIMEOUT_MS = 10_000;

/** One command line in, one answer out, each a line of JSON. */
export interface ControlRequest {
  readonly words: readonly string[];
}

export type ControlAnswer = { readonly ok: true; readonly output: CommandOutput } | { readonly ok: false; readonly error: string; readonly usage: boolean };

/**
 * The ctl tool's way in: a Unix socket in the data directory, readable and
 * writable by the broker's own OS user only, so whoever may administer the
 * data directory may administer the broker, and nobody over the network.
 */
export class ControlServer {
  private constructor(
    private readonly server: Server,
    private readonly path: string,
    private readonly sockets: Set<Socket>,
  ) {}

  static async listen(path: string, node: ControlledNode, log: Logger): Promise<ControlServer> {
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) throw new Error(`the path is longer than a Unix socket path may be (${MAX_SOCKET_PATH_BYTES} bytes)`);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    chmodSync(dirname(path), 0o700);
    // Left by a broker that was killed: the data directory's lock is ours, so nothing else listens on it.
    rmSync(path, { force: true });
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      serve(socket, node, log);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => {
        // Nothing must stay open behind a failed listen: it would keep the process alive.
        server.close();
        reject(err);
      });
      server.listen(path, () => {
        server.removeAllListeners('error');
        resolve();
      });
    });
    chmodSync(path, 0o600);
    return new ControlServer(server, path, sockets);
  }

  /** Stops listening and drops clients still connected (an answer in progress is cut short). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
    rmSync(this.path, { force: true });
  }
}

function serve(socket: Socket, node: ControlledNode, log: Logger): void {
  let request = '';
  socket.setEncoding('utf8');
  socket.on('error', () => {});
  socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy());
  socket.on('data', (chunk: string) => {
    request += chunk;
    if (request.length > MAX_REQUEST_BYTES) return void socket.destroy();
    const end = request.indexOf('\n');
    if (end < 0) return;
    socket.removeAllListeners('data');
    // The request is in: the command may take its time (a vhost with many queues to delete).
    socket.setTimeout(0);
    void answer(request.slice(0, end), node, log).then((a) => socket.end(`${JSON.stringify(a)}\n`));
  });
}

async function answer(line: string, node: ControlledNode, log: Logger): Promise<ControlAnswer> {
  let words: readonly string[];
  try {
    words = (JSON.parse(line) as ControlRequest).words;
    if (!Array.isArray(words) || !words.every((w) => typeof w === 'string')) throw new Error('words must be strings');
  } catch (err) {
    return { ok: false, error: `malformed request: ${(err as Error).message}`, usage: false };
  }
  try {
    const output = await runCommand(node, words);
    // Passwords are not logged: only the command's name.
    if ('done' in output) log.info({ command: words[0] }, output.done);
    return { ok: true, output };
  } catch (err) {
    if (err instanceof UsageError || err instanceof AccessAdminError || err instanceof CommandRefusal) return { ok: false, error: err.message, usage: err instanceof UsageError };
    log.error({ err, command: words[0] }, 'control command failed');
    return { ok: false, error: (err as Error).message, usage: false };
  }
}
