import { type FieldTable, type FieldValue, isFieldTable, plainValue, TypedValue } from '../protocol/field-value.js';
import { typeName } from '../vhost/equivalence.js';
import { compileHeaderPattern, type HeaderPattern, headerValueMatches } from './headers-value-equal.js';

/** Values of the x-match binding argument. */
export const XMatch = {
  All: 'all',
  Any: 'any',
  AllWithX: 'all-with-x',
  AnyWithX: 'any-with-x',
} as const;
export type XMatch = (typeof XMatch)[keyof typeof XMatch];

const X_MATCH = 'x-match';

function isXMatch(value: string): value is XMatch {
  return value === XMatch.All || value === XMatch.Any || value === XMatch.AllWithX || value === XMatch.AnyWithX;
}

/**
 * RabbitMQ refuses (406) a binding whose x-match is not one of the four
 * strings, or not a string at all; a missing x-match means all.
 */
export function validateHeadersBindingArgs(args: FieldTable): string | undefined {
  if (!Object.hasOwn(args, X_MATCH)) return undefined;
  const value = args[X_MATCH];
  if (typeof value !== 'string') {
    return `Invalid x-match field type ${typeName(value!)} (value ${erlangTerm(value!)}); expected longstr`;
  }
  if (isXMatch(value)) return undefined;
  return `Invalid x-match field value ${erlangTerm(value)}; expected all, any, all-with-x, or any-with-x`;
}

/** The value as RabbitMQ prints it in that error (an Erlang term). */
function erlangTerm(v: FieldValue): string {
  if (v === null) return 'undefined';
  if (typeof v === 'string') return v === '' ? '<<>>' : `<<"${v}">>`;
  if (Buffer.isBuffer(v)) return `<<"${v.toString('latin1')}">>`;
  if (v instanceof Date) return String(Math.floor(v.getTime() / 1000));
  if (v instanceof TypedValue && typeof v.value === 'object') return `{${v.value.places},${v.value.digits}}`;
  if (Array.isArray(v)) return `[${v.map((e) => `{${typeName(e)},${erlangTerm(e)}}`).join(',')}]`;
  if (isFieldTable(v)) return `[${Object.entries(v).map(([k, e]) => `{<<"${k}">>,${typeName(e)},${erlangTerm(e)}}`).join(',')}]`;
  return String(plainValue(v));
}

/**
 * One headers binding, compiled once at bind time.
 *
 * Matching follows rabbit_exchange_type_headers:
 * - x-match itself never takes part; other `x-` arguments take part only in
 *   the -with-x modes;
 * - a pattern value of type void (null) asks only that the header be present;
 * - `all` needs every pattern key present and equal, so a binding with no
 *   pattern keys matches every message; `any` needs one, so such a binding
 *   matches none;
 * - values compare as in headerValueMatches (type tags ignored).
 * An unparseable x-match (bound before validation existed) means all.
 */
export class HeadersMatcher {
  readonly mode: XMatch;
  private readonly keys: string[] = [];
  private readonly patterns: HeaderPattern[] = [];

  constructor(args: FieldTable) {
    const xMatch = args[X_MATCH];
    this.mode = typeof xMatch === 'string' && Object.hasOwn(args, X_MATCH) && isXMatch(xMatch) ? xMatch : XMatch.All;
    const withX = this.mode === XMatch.AllWithX || this.mode === XMatch.AnyWithX;
    for (const key in args) {
      if (!Object.hasOwn(args, key) || key === X_MATCH) continue;
      if (!withX && key.startsWith('x-')) continue;
      this.keys.push(key);
      this.patterns.push(compileHeaderPattern(args[key]!));
    }
  }

  matches(headers: FieldTable | undefined): boolean {
    const all = this.mode === XMatch.All || this.mode === XMatch.AllWithX;
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      // hasOwn, not `in`: a header named "constructor" must not find Object's.
      const ok =
        headers !== undefined &&
        Object.hasOwn(headers, key) &&
        (this.patterns[i]!.kind === 'void' || headerValueMatches(this.patterns[i]!, headers[key]!));
      if (ok !== all) return ok;
    }
    return all;
  }
}
