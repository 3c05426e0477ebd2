/**
 * The PostgreSQL backend's worker thread: it holds the `pg` connections and answers one request at a
 * time for store/postgres.ts, which waits for each answer synchronously (synckit). Values come back
 * as SQLite's would: int8 and numeric as numbers (ms timestamps and counts), booleans as 1 and 0
 * (what SQLite's comparisons yield and the repositories test for), JSON as its text; bytea stays a
 * Buffer (its columns are named so the caller can restore the Buffer a thread transfer turns into a
 * plain Uint8Array). Errors are answered as values, so their SQLSTATE survives the thread boundary.
 */
import pg from 'pg';
import { runAsWorker } from 'synckit';

/** A statement and its `$1..$n` values. */
export interface PgQuery {
  sql: string;
  params: readonly unknown[];
}

/** What the main thread asks. `fence`: run it first, in a transaction, and refuse when it changes no row. */
export type PgRequest =
  | {
      op: 'open';
      conn: number;
      url: string;
      idleInTransactionTimeoutMs: number;
      connectTimeoutMs: number;
      queryTimeoutMs: number;
    }
  | { op: 'query'; conn: number; query: PgQuery; fence: PgQuery | null }
  | { op: 'script'; conn: number; sql: string }
  | { op: 'begin'; conn: number; fence: PgQuery | null }
  | { op: 'close'; conn: number };

/** The answer: rows (with the names of bytea columns) and rows written, or the error. */
export type PgResponse =
  | { ok: true; rows: Record<string, unknown>[]; changes: number; bytea: string[] }
  | { ok: false; message: string; code?: string; fenced?: boolean };

const INT8 = 20;
const NUMERIC = 1700;
const BOOL = 16;
const JSON_OID = 114;
const JSONB = 3802;
const BYTEA = 17;

pg.types.setTypeParser(INT8, Number);
pg.types.setTypeParser(NUMERIC, Number);
pg.types.setTypeParser(BOOL, (v: string) => (v === 't' ? 1 : 0));
pg.types.setTypeParser(JSON_OID, (v: string) => v);
pg.types.setTypeParser(JSONB, (v: string) => v);

/** A connection and whether it broke (the server ended it, e.g. for idling in a transaction). */
interface Conn {
  client: pg.Client;
  broken: Error | null;
  options: Extract<PgRequest, { op: 'open' }>;
}

const conns = new Map<number, Conn>();

async function connect(options: Extract<PgRequest, { op: 'open' }>): Promise<Conn> {
  const client = new pg.Client({
    connectionString: options.url,
    connectionTimeoutMillis: options.connectTimeoutMs,
    query_timeout: options.queryTimeoutMs,
    keepAlive: true,
  });
  const conn: Conn = { client, broken: null, options };
  // An idle connection's error (server gone, session ended) would otherwise crash the thread.
  client.on('error', (e) => {
    conn.broken = e;
  });
  // A session the server ended while a query was waiting reports its error to that query only.
  client.on('end', () => {
    conn.broken ??= new Error('the PostgreSQL connection was closed');
  });
  await client.connect();
  // Repeatable read: a transaction reads one instant, as SQLite's do (a snapshot must be one).
  await client.query(
    `SET idle_in_transaction_session_timeout = ${Math.max(0, Math.trunc(options.idleInTransactionTimeoutMs))};
     SET default_transaction_isolation = 'repeatable read'`,
  );
  return conn;
}

/** Buffers as pg wants them: a thread transfer turned the caller's Buffers into Uint8Arrays. */
function values(params: readonly unknown[]): unknown[] {
  return params.map((p) =>
    p instanceof Uint8Array && !Buffer.isBuffer(p) ? Buffer.from(p.buffer, p.byteOffset, p.byteLength) : p,
  );
}

async function run(client: pg.Client, q: PgQuery): Promise<PgResponse & { ok: true }> {
  const r = await client.query({ text: q.sql, values: values(q.params) });
  return {
    ok: true,
    rows: r.rows as Record<string, unknown>[],
    changes: r.rowCount ?? 0,
    bytea: r.fields.filter((f) => f.dataTypeID === BYTEA).map((f) => f.name),
  };
}

/** BEGIN, then the fence; false (rolled back) when the fence changed no row. */
async function begin(client: pg.Client, fence: PgQuery | null): Promise<boolean> {
  await client.query('BEGIN');
  if (fence === null) return true;
  try {
    if ((await run(client, fence)).changes > 0) return true;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
  await client.query('ROLLBACK');
  return false;
}

const FENCED: PgResponse = { ok: false, message: 'fenced', fenced: true };

/** The connection `id`, reconnected first when it broke and no transaction is open on it. */
async function usable(id: number, inTransaction: boolean): Promise<Conn> {
  const conn = conns.get(id);
  if (conn === undefined) throw new Error(`no PostgreSQL connection ${id} (closed)`);
  if (conn.broken === null) return conn;
  if (inTransaction) throw conn.broken;
  conn.client.end().catch(() => undefined);
  const fresh = await connect(conn.options);
  conns.set(id, fresh);
  return fresh;
}

async function handle(req: PgRequest, inTransaction: boolean): Promise<PgResponse> {
  switch (req.op) {
    case 'open':
      conns.set(req.conn, await connect(req));
      return { ok: true, rows: [], changes: 0, bytea: [] };
    case 'close': {
      const conn = conns.get(req.conn);
      conns.delete(req.conn);
      await conn?.client.end().catch(() => undefined);
      return { ok: true, rows: [], changes: 0, bytea: [] };
    }
    case 'script': {
      const { client } = await usable(req.conn, inTransaction);
      await client.query(req.sql);
      return { ok: true, rows: [], changes: 0, bytea: [] };
    }
    case 'begin': {
      const { client } = await usable(req.conn, false);
      return (await begin(client, req.fence)) ? { ok: true, rows: [], changes: 0, bytea: [] } : FENCED;
    }
    case 'query': {
      const { client } = await usable(req.conn, inTransaction);
      if (req.fence === null) return await run(client, req.query);
      if (!(await begin(client, req.fence))) return FENCED;
      try {
        const out = await run(client, req.query);
        await client.query('COMMIT');
        return out;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    }
  }
}

/** Answers `req`; `inTransaction` says whether the caller holds a transaction open on the connection. */
export async function answer(req: PgRequest, inTransaction: boolean): Promise<PgResponse> {
  try {
    return await handle(req, inTransaction);
  } catch (e) {
    const error = e instanceof Error ? e : new Error(String(e));
    const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
    return code === undefined
      ? { ok: false, message: error.message }
      : { ok: false, message: error.message, code };
  }
}

runAsWorker(answer);
