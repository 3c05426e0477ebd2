/**
 * The store's database handle, one interface over two backends: the SQLite file in the data
 * directory (the embedded default, with the durability settings docs/architecture.md §6 asks for)
 * and PostgreSQL (several allocators sharing one replicated database). Both are synchronous, so no
 * repository is async: PostgreSQL answers through a worker thread (store/postgres.ts).
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { type DefaultsOf, withDefaults } from '../../common/options.ts';
import type { Db } from './db-types.ts';
import { migrate } from './migrations.ts';
import { openPostgres, type PostgresOptions } from './postgres.ts';
import { sqliteDb } from './sqlite.ts';

export { type Db, type Dialect, type Fence, NO_LIMIT, type Statement } from './db-types.ts';

/** Data directory when none is given. */
export const DEFAULT_DATA_DIR = './tessera-data';

/** The database file's name inside the data directory. */
export const DB_FILE = 'tessera.db';

/** Where and how to open the SQLite store. */
export interface OpenOptions {
  /** Directory holding `tessera.db`; created if missing. Default `./tessera-data`. */
  dataDir?: string;
  /** Wait this long for a lock held by another connection. Default 5000 ms. */
  busyTimeoutMs?: number;
}

/** The defaults of `OpenOptions`, as its fields document them. */
const OPEN_DEFAULTS = {
  dataDir: DEFAULT_DATA_DIR,
  busyTimeoutMs: 5000,
} as const satisfies DefaultsOf<OpenOptions>;

/**
 * Keeps the database file and its WAL and shared-memory files readable by their owner alone: the
 * file holds registry passwords (store/registry-secrets.ts) and token hashes. The file is created
 * 0600 before SQLite opens it, because SQLite gives the WAL it creates the database file's mode;
 * files an older release left with wider modes are narrowed.
 */
function ownerOnly(file: string): void {
  closeSync(openSync(file, 'a', 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
}

/** Opens (creating if needed) `<dataDir>/tessera.db` with mode 0600, applies pragmas and migrations. */
export function openDb(given: OpenOptions = {}): Db {
  const options = withDefaults(given, OPEN_DEFAULTS);
  const dir = options.dataDir;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, DB_FILE);
  ownerOnly(file);
  const raw = new Database(file);
  try {
    raw.pragma('journal_mode = WAL');
    // FULL: a decision is on disk before it is dispatched, even across power loss.
    raw.pragma('synchronous = FULL');
    raw.pragma('foreign_keys = ON');
    raw.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs))}`);
  } catch (e) {
    raw.close();
    throw e;
  }
  return migrated(sqliteDb(raw));
}

/** Where the allocator keeps its state: `openStore`'s options. */
export interface StoreOptions extends PostgresOptions {
  /** The SQLite store's directory (also used when `url` names PostgreSQL, for nothing of the store's). */
  dataDir: string;
  /** Undefined or `sqlite:`: the SQLite file in `dataDir`; `postgres://` or `postgresql://`: that database. */
  url?: string;
}

/** True when `url` names a PostgreSQL database. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/**
 * Opens the allocator's store: SQLite in `dataDir` by default, or the PostgreSQL database `url`
 * names; either way migrated to the schema version this code writes.
 */
export function openStore(options: StoreOptions): Db {
  const { url, dataDir, ...pg } = options;
  if (url === undefined || url === '' || /^sqlite:/i.test(url)) return openDb({ dataDir });
  if (!isPostgresUrl(url))
    throw new Error(
      `store URL must start with postgres://, postgresql:// or sqlite: (got ${url.split(':')[0]}:)`,
    );
  return migrated(openPostgres(url, pg));
}

/** `db` with its schema brought up to date; closed again when that fails. */
function migrated(db: Db): Db {
  try {
    migrate(db);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

/** Asks the database a trivial question; throws when it does not answer (the readiness probe). */
export function ping(db: Db): void {
  db.prepare('SELECT 1').get();
}

/**
 * Runs `fn` in one transaction: all its writes commit together, or none does when it throws (the
 * throw goes on to the caller). Nested, it is a savepoint. Callers outside the store use this, not
 * the driver's own `transaction`, so a backend whose transactions differ changes one function.
 */
export function inTransaction<T>(db: Db, fn: () => T): T {
  return db.transaction(fn);
}
