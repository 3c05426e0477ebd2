/**
 * The PostgreSQL backend: `pg` in a worker thread (store/postgres-worker.ts), called synchronously
 * through synckit, so the repositories keep their synchronous SQL. Each call blocks this thread for
 * one round trip; transactions are BEGIN/COMMIT/ROLLBACK with SAVEPOINTs when nested, and a set
 * fence rides with the BEGIN (or with a lone write) in the same round trip.
 */
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createSyncFn } from 'synckit';
import { type DefaultsOf, withDefaults } from '../../common/options.ts';
import type { Db, Fence, Statement } from './db-types.ts';
import { FencedError } from './errors.ts';
import type { answer, PgQuery, PgRequest, PgResponse } from './postgres-worker.ts';
import { isWrite, type NumberedSql, numberParams, paramValues } from './sql-text.ts';

/** How to talk to PostgreSQL. */
export interface PostgresOptions {
  /**
   * PostgreSQL ends this allocator's session when it sits this long inside a transaction, releasing
   * its locks: a frozen allocator (SIGSTOP, a stalled VM) cannot hold them forever. Default 10 s.
   */
  idleInTransactionTimeoutMs?: number;
  /** Give up connecting after this long. Default 10 s. */
  connectTimeoutMs?: number;
  /** Give up waiting for one statement's answer after this long (this thread waits that long at most). Default 30 s. */
  queryTimeoutMs?: number;
}

const PG_DEFAULTS = {
  idleInTransactionTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  queryTimeoutMs: 30_000,
} as const satisfies DefaultsOf<PostgresOptions>;

/** A PostgreSQL error with its SQLSTATE as `code` (23505 unique, 23503 foreign key, ...). */
export class PostgresError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined) {
    super(message);
    this.name = 'PostgresError';
    this.code = code;
  }
}

const IMPORT = '--import';

/**
 * From source (as bin/tessera.js runs it) the worker is TypeScript too. Node 20 ignores a worker's
 * `--import tsx`, but a preload that calls tsx's `register()` in the worker's own thread works; tsx
 * is named by path, so it resolves wherever the process was started.
 */
function tsxPreload(): string {
  const pkg = createRequire(import.meta.url).resolve('tsx/package.json');
  const api = pathToFileURL(join(dirname(pkg), 'dist', 'esm', 'api', 'index.mjs')).href;
  return `data:text/javascript,import { register } from ${JSON.stringify(api)}; register();`;
}

type Call = (req: PgRequest, inTransaction: boolean) => PgResponse;

let bridge: Call | null = null;

/** The synchronous call into the worker, started on first use; one worker serves every connection. */
function call(): Call {
  if (bridge !== null) return bridge;
  const here = fileURLToPath(import.meta.url);
  const worker = pathToFileURL(here.replace(/postgres\.[cm]?[jt]s$/, `postgres-worker${extname(here)}`));
  bridge = createSyncFn<typeof answer>(worker, {
    ...(extname(here) === '.ts' ? { tsRunner: 'tsx', execArgv: [IMPORT, tsxPreload()] } : { execArgv: [] }),
    // Past the worker's own timeouts: it answers every request, this only catches a dead thread.
    timeout: 10 * 60_000,
  });
  return bridge;
}

/** `url` without its password, for messages. */
function shown(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

let nextConn = 1;

/** Opens a connection to the PostgreSQL database `url` names, as the store's `Db` (not yet migrated). */
export function openPostgres(url: string, given: PostgresOptions = {}): Db {
  const options = withDefaults(given, PG_DEFAULTS);
  const conn = nextConn++;
  const send = call();
  let depth = 0;
  let open = true;
  let fence: PgQuery | null = null;
  let fenceGiven: Fence | null = null;
  const texts = new Map<string, NumberedSql & { write: boolean }>();

  const ask = (req: PgRequest): PgResponse & { ok: true } => {
    if (!open) throw new Error(`PostgreSQL store ${shown(url)} is closed`);
    const res = send(req, depth > 0);
    if (res.ok) return res;
    if (res.fenced === true && fenceGiven !== null) throw new FencedError(fenceGiven);
    throw new PostgresError(res.message, res.code);
  };

  const query = (sql: string, params: readonly unknown[]): PgResponse & { ok: true } => {
    let numbered = texts.get(sql);
    if (numbered === undefined) {
      numbered = { ...numberParams(sql), write: isWrite(sql) };
      texts.set(sql, numbered);
    }
    const res = ask({
      op: 'query',
      conn,
      query: { sql: numbered.text, params: paramValues(numbered, params) },
      fence: numbered.write && depth === 0 ? fence : null,
    });
    for (const name of res.bytea)
      for (const row of res.rows) {
        const v = row[name];
        if (v instanceof Uint8Array) row[name] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      }
    return res;
  };

  const script = (sql: string): void => {
    ask({ op: 'script', conn, sql });
  };

  const transaction = <T>(fn: () => T): T => {
    if (depth === 0) {
      ask({ op: 'begin', conn, fence });
      depth = 1;
      try {
        const out = fn();
        script('COMMIT');
        return out;
      } catch (e) {
        if (open) {
          try {
            script('ROLLBACK');
          } catch {
            // The connection is gone; the server rolled back with it. The first error is the one to see.
          }
        }
        throw e;
      } finally {
        depth = 0;
      }
    }
    const savepoint = `tessera_${depth}`;
    script(`SAVEPOINT ${savepoint}`);
    depth++;
    try {
      const out = fn();
      script(`RELEASE SAVEPOINT ${savepoint}`);
      return out;
    } catch (e) {
      try {
        script(`ROLLBACK TO SAVEPOINT ${savepoint}; RELEASE SAVEPOINT ${savepoint}`);
      } catch {
        // As above: the outer transaction fails with the connection; report what failed first.
      }
      throw e;
    } finally {
      depth--;
    }
  };

  ask({ op: 'open', conn, url, ...options });
  return {
    dialect: 'postgres',
    name: shown(url),
    get open() {
      return open;
    },
    prepare: (sql): Statement => ({
      get: (...params) => query(sql, params).rows[0],
      all: (...params) => query(sql, params).rows,
      run: (...params) => ({ changes: query(sql, params).changes }),
    }),
    exec: script,
    close: () => {
      if (!open) return;
      send({ op: 'close', conn }, false);
      open = false;
    },
    setFence: (f) => {
      fenceGiven = f;
      if (f === null) fence = null;
      else {
        const numbered = numberParams(f.sql);
        fence = { sql: numbered.text, params: paramValues(numbered, f.params) };
      }
    },
    transaction,
  };
}
