#!/usr/bin/env node
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';
import { commandUsage } from '../control/commands.js';
import type { ControlAnswer } from '../control/control-server.js';
import { CONTROL_SOCKET } from '../control/control-socket.js';

const USAGE = `Usage: npm run ctl -- [--data-dir <path>] <command> [arguments]

Talks to the broker running on the data directory (default ./data, or
AMQP_BROKER_DATA_DIR), through its control socket. Commands, as rabbitmqctl has them:
${commandUsage()}
`;

/** Takes --data-dir off the front of the arguments; the rest is the command line. */
function parse(argv: readonly string[]): { dataDir: string; words: string[] } {
  const words = [...argv];
  let dataDir = process.env['AMQP_BROKER_DATA_DIR'] ?? 'data';
  while (words[0] === '--data-dir' || words[0]?.startsWith('--data-dir=')) {
    const flag = words.shift()!;
    dataDir = flag.includes('=') ? flag.slice(flag.indexOf('=') + 1) : (words.shift() ?? '');
  }
  return { dataDir: resolve(dataDir), words };
}

function ask(socketPath: string, words: readonly string[]): Promise<ControlAnswer> {
  return new Promise((resolvePromise, reject) => {
    const socket = createConnection(socketPath);
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify({ words })}\n`));
    socket.on('data', (chunk: string) => (reply += chunk));
    socket.on('end', () => {
      try {
        resolvePromise(JSON.parse(reply) as ControlAnswer);
      } catch {
        reject(new Error('the broker gave no answer'));
      }
    });
    socket.on('error', reject);
  });
}

async function main(): Promise<void> {
  const { dataDir, words } = parse(process.argv.slice(2));
  if (words.length === 0 || words[0] === '--help' || words[0] === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  // The broker reads the file: it is named to it as this process sees it.
  if (words[0] === 'import_definitions' && words[1] !== undefined) words[1] = resolve(words[1]);
  const socketPath = join(dataDir, CONTROL_SOCKET);
  let answer: ControlAnswer;
  try {
    answer = await ask(socketPath, words);
  } catch (err) {
    process.stderr.write(`Error: cannot reach a broker on ${dataDir} (${(err as Error).message}); is it running with that --data-dir?\n`);
    process.exit(69);
  }
  if (!answer.ok) {
    process.stderr.write(`Error: ${answer.error}\n${answer.usage ? `\n${USAGE}` : ''}`);
    process.exit(answer.usage ? 64 : 70);
  }
  const output = answer.output;
  if ('done' in output) process.stdout.write(`${output.done}\n`);
  else process.stdout.write([output.header, ...output.rows].map((row) => row.join('\t')).join('\n') + '\n');
}

void main();
