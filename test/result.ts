/** Unwrapping `Result`s in tests: the value of an ok one, the error of a failed one, else a clear throw. */
import type { Result, TesseraError } from '../common/errors.ts';

/** The value of an ok result; throws with the error's code and message otherwise. */
export function value<T>(r: Result<T>): T {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.value;
}

/** The error of a failed result; throws with the value otherwise. */
export function failure<T>(r: Result<T>): TesseraError {
  if (r.ok) throw new Error(`expected an error, got ${JSON.stringify(r.value)}`);
  return r.error;
}
