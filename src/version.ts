import { existsSync, readFileSync } from 'node:fs';

/** package.json sits one level above src/ when run from source, two above dist/src/ when compiled. */
function readPackageVersion(): string {
  for (const relative of ['../package.json', '../../package.json']) {
    const url = new URL(relative, import.meta.url);
    if (existsSync(url)) return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  }
  return '0.0.0';
}

export const PRODUCT = 'amqp-broker';
export const VERSION: string = readPackageVersion();
