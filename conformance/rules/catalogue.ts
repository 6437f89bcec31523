import { readFileSync } from 'node:fs';

/** One <rule> of the specification as rules.json records it (see its "fields" entry). */
export interface CatalogueRule {
  readonly id: string;
  readonly domain?: string;
  readonly class?: string;
  readonly method?: string;
  readonly field?: string;
  readonly name: string;
  readonly summary: string;
  readonly tests?: readonly string[];
  readonly reason?: string;
  readonly rabbitmq?: string;
  readonly gap?: string;
}

export interface Catalogue {
  readonly rules: readonly CatalogueRule[];
}

export function loadCatalogue(): Catalogue {
  return JSON.parse(readFileSync(new URL('./rules.json', import.meta.url), 'utf8')) as Catalogue;
}
