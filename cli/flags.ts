/** Turning parsed flag values into numbers or usage errors, for every command. */
import { usageError } from './errors.ts';

/** A flag's parsed value, or its usage error. */
export function flagValue(
  r: { ok: true; value: number } | { ok: false; error: { message: string; field?: string } },
): number {
  if (r.ok) return r.value;
  throw usageError(r.error.field ?? 'flag', r.error.message);
}
