/**
 * The store's failure: a registry `TesseraError` thrown inside a transaction so better-sqlite3 rolls
 * the whole transaction back, then caught at the repository's edge and returned as a `Result`.
 */
import { type ErrorCode, err, type Result, type TesseraError, tesseraError } from '../../common/errors.ts';

/** A `TesseraError` as an exception, so throwing it aborts the enclosing transaction. */
export class StoreError extends Error {
  readonly error: TesseraError;
  constructor(error: TesseraError) {
    super(error.message);
    this.name = 'StoreError';
    this.error = error;
  }
}

/** Throws a `StoreError` with `code` and `message`. */
export function fail(code: ErrorCode, message: string, context?: Record<string, string | number>): never {
  throw new StoreError(tesseraError(code, message, context === undefined ? undefined : { context }));
}

/** Runs `fn`, turning a thrown `StoreError` or SQLite constraint failure into an `Err`. */
export function guard<T>(fn: () => T): Result<T> {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (e instanceof StoreError) return err(e.error);
    // UNIQUE / PRIMARY KEY clashes are the user's "already exists", not a bug.
    if (e instanceof Error && 'code' in e && typeof e.code === 'string') {
      if (e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
        return err(tesseraError('TESSERA_E_CONFLICT', e.message));
      if (e.code === 'SQLITE_CONSTRAINT_FOREIGNKEY')
        return err(tesseraError('TESSERA_E_NOT_FOUND', `a referenced record does not exist (${e.message})`));
    }
    throw e;
  }
}
