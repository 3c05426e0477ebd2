/** Turning parsed flag values into numbers or usage errors, for every command. */
import { usageError } from './errors.ts';

/** A flag's parsed value, or its usage error. */
export function flagValue(
  r: { ok: true; value: number } | { ok: false; error: { message: string; field?: string } },
): number {
  if (r.ok) return r.value;
  throw usageError(r.error.field ?? 'flag', r.error.message);
}

/** Commander's accumulator for a repeatable flag: every value given, in order. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
