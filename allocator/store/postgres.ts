/** The PostgreSQL backend (being written). */
import type { Db } from './db.ts';

/** How to open PostgreSQL. */
export interface PostgresOptions {
  /** PostgreSQL ends a session idle inside a transaction this long, releasing its locks. Default 10 s. */
  idleInTransactionTimeoutMs?: number;
}

/** Opens `url`. */
export function openPostgres(url: string, _options: PostgresOptions = {}): Db {
  throw new Error(`PostgreSQL store not built yet: ${url}`);
}
