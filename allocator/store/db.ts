/**
 * Opens the allocator's one SQLite file with the durability settings docs/architecture.md §6 asks for and
 * brings its schema up to date.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { migrate } from './migrations.ts';

/** The store's handle: a better-sqlite3 connection. */
export type Db = Database.Database;

/** Data directory when none is given. */
export const DEFAULT_DATA_DIR = './tessera-data';

/** The database file's name inside the data directory. */
export const DB_FILE = 'tessera.db';

/** Where and how to open the store. */
export interface OpenOptions {
  /** Directory holding `tessera.db`; created if missing. Default `./tessera-data`. */
  dataDir?: string;
  /** Wait this long for a lock held by another connection. Default 5000 ms. */
  busyTimeoutMs?: number;
}

/** Opens (creating if needed) `<dataDir>/tessera.db`, applies pragmas and migrations. */
export function openDb(options: OpenOptions = {}): Db {
  const dir = options.dataDir ?? DEFAULT_DATA_DIR;
  mkdirSync(dir, { recursive: true });
  const db = new Database(join(dir, DB_FILE));
  try {
    db.pragma('journal_mode = WAL');
    // FULL: a decision is on disk before it is dispatched, even across power loss.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
    migrate(db);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}
