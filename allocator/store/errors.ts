/**
 * The store's failure: a registry `TesseraError` thrown inside a transaction so the backend rolls
 * the whole transaction back, then caught at the repository's edge and returned as a `Result`.
 * `FencedError` is apart: a write refused by the fence (store/db.ts `Fence`) is no user's mistake
 * but this allocator's loss of leadership, so `guard` lets it through to whoever handles that.
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

/** A write refused because the fence statement changed no row: this allocator no longer leads. */
export class FencedError extends Error {
  readonly fence: { sql: string; params: readonly unknown[] };
  constructor(fence: { sql: string; params: readonly unknown[] }) {
    super(
      `write refused by the store's fence: ${fence.sql.replace(/\s+/g, ' ').trim()} with (${fence.params.map((p) => JSON.stringify(p)).join(', ')}) changed no row; another allocator leads now`,
    );
    this.name = 'FencedError';
    this.fence = fence;
  }
}

/** SQLSTATEs of PostgreSQL's unique and foreign-key violations (the SQLite codes' equals). */
const PG_UNIQUE = '23505';
const PG_FOREIGN_KEY = '23503';

/** Runs `fn`, turning a thrown `StoreError` or a constraint failure (SQLite or PostgreSQL) into an `Err`. */
export function guard<T>(fn: () => T): Result<T> {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (e instanceof StoreError) return err(e.error);
    // UNIQUE / PRIMARY KEY clashes are the user's "already exists", not a bug.
    if (e instanceof Error && 'code' in e && typeof e.code === 'string') {
      if (
        e.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
        e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
        e.code === PG_UNIQUE
      )
        return err(tesseraError('TESSERA_E_CONFLICT', e.message));
      if (e.code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || e.code === PG_FOREIGN_KEY)
        return err(tesseraError('TESSERA_E_NOT_FOUND', `a referenced record does not exist (${e.message})`));
    }
    throw e;
  }
}
