import { pino, type Logger } from 'pino';

/** The broker's root logger: lifecycle and errors only; connections take child loggers from it. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { pid: process.pid } });
}
