import { type FieldTable, plainValue } from '../protocol/field-value.js';

/** An integer x-argument (validated when the queue was declared) as a number, or undefined when absent. */
export function integerArgument(args: FieldTable, key: string): number | undefined {
  const value = args[key];
  return value === undefined ? undefined : Number(plainValue(value));
}
