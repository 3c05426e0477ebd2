/**
 * The SQLite backend: better-sqlite3 behind the store's `Db`. Statements are cached by their text,
 * so a repository that prepares its SQL on every call pays SQLite's parse once; reads are
 * better-sqlite3's own statements, untouched, and only writes go through a wrapper, which runs the
 * fence (if one is set) around a write made outside a transaction.
 */
import type Database from 'better-sqlite3';
import type { Db, Fence, Statement } from './db-types.ts';
import { FencedError } from './errors.ts';
import { isWrite } from './sql-text.ts';

/** Distinct statement texts kept; past it the cache starts over (texts built per call are few). */
const CACHE_LIMIT = 2000;

/** `raw` as the store's `Db`; the caller has set its pragmas. */
export function sqliteDb(raw: Database.Database): Db {
  const cache = new Map<string, Statement>();
  let fence: Fence | null = null;
  let fenceStatement: Database.Statement | null = null;

  const checkFence = (): void => {
    if (fence === null || fenceStatement === null) return;
    if (fenceStatement.run(...fence.params).changes === 0) throw new FencedError(fence);
  };
  const transaction = <T>(fn: () => T): T => {
    if (raw.inTransaction) return raw.transaction(fn)();
    return raw.transaction((): T => {
      checkFence();
      return fn();
    })();
  };
  /** A write run alone: in a transaction with the fence when one is set. */
  const write = <T>(fn: () => T): T => (fence === null || raw.inTransaction ? fn() : transaction(fn));

  const prepare = (sql: string): Statement => {
    const cached = cache.get(sql);
    if (cached !== undefined) return cached;
    const st = raw.prepare(sql);
    const out: Statement = isWrite(sql)
      ? {
          get: (...p) => write(() => st.get(...p)),
          all: (...p) => write(() => st.all(...p)),
          run: (...p) => write(() => st.run(...p)),
        }
      : st;
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(sql, out);
    return out;
  };

  return {
    dialect: 'sqlite',
    name: raw.name,
    get open() {
      return raw.open;
    },
    prepare,
    exec: (sql) => {
      raw.exec(sql);
    },
    close: () => {
      cache.clear();
      raw.close();
    },
    setFence: (f) => {
      fence = f;
      fenceStatement = f === null ? null : raw.prepare(f.sql);
    },
    transaction,
  };
}
