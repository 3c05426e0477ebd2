/**
 * The PostgreSQL backend's own promises: the same schema as SQLite at every version, allocators
 * starting together migrate once, a newer database is refused, and a session idle inside a
 * transaction is ended by the server (its locks released) and replaced on the next call.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Db, inTransaction, openStore, ping } from '../../../allocator/store/db.ts';
import { StoreError } from '../../../allocator/store/errors.ts';
import {
  MIGRATIONS,
  migrate,
  PG_VERSION_TABLE,
  SCHEMA_VERSION,
  schemaVersion,
} from '../../../allocator/store/migrations.ts';
import { openPostgres } from '../../../allocator/store/postgres.ts';
import { sqliteDb } from '../../../allocator/store/sqlite.ts';
import {
  createDatabase,
  POSTGRES_MISSING,
  startPostgres,
  type TestPostgres,
} from '../../helpers/postgres.ts';

const run = promisify(execFile);
let pg: TestPostgres;

beforeAll(async () => {
  if (POSTGRES_MISSING === null) pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
});

/** Table -> "column type notnull" lines, the way both backends can say it. */
function sqliteColumns(db: Db): Record<string, string[]> {
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .all() as { name: string }[];
  const out: Record<string, string[]> = {};
  const types: Record<string, string> = {
    INTEGER: 'bigint',
    TEXT: 'text',
    REAL: 'double precision',
    BLOB: 'bytea',
  };
  for (const { name } of tables) {
    const cols = db.prepare(`SELECT name, type, "notnull" AS nn, pk FROM pragma_table_info(?)`).all(name) as {
      name: string;
      type: string;
      nn: number;
      pk: number;
    }[];
    out[name] = cols
      // SQLite's NOT NULL on a primary key is implied by PostgreSQL's.
      .map((c) => `${c.name} ${types[c.type] ?? c.type} ${c.nn === 1 || c.pk > 0 ? 'not null' : 'null'}`)
      .sort();
  }
  return out;
}

function postgresColumns(db: Db): Record<string, string[]> {
  const rows = db
    .prepare(
      `SELECT table_name AS t, column_name AS c, data_type AS ty, is_nullable AS n FROM information_schema.columns
       WHERE table_schema = current_schema() AND table_name <> ? AND column_name <> 'rowid'`,
    )
    .all(PG_VERSION_TABLE) as { t: string; c: string; ty: string; n: string }[];
  const out: Record<string, string[]> = {};
  for (const r of rows) {
    const cols = out[r.t] ?? [];
    cols.push(`${r.c} ${r.ty} ${r.n === 'NO' ? 'not null' : 'null'}`);
    out[r.t] = cols;
  }
  for (const cols of Object.values(out)) cols.sort();
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

describe.skipIf(POSTGRES_MISSING !== null)('the PostgreSQL store', () => {
  it('has the same tables and columns as SQLite at every schema version', async () => {
    const sqlite = sqliteDb(new Database(':memory:'));
    const postgres = openPostgres(await createDatabase(pg.url));
    try {
      for (let v = 1; v <= SCHEMA_VERSION; v++) {
        migrate(sqlite, MIGRATIONS.slice(0, v));
        migrate(postgres, MIGRATIONS.slice(0, v));
        expect({ v, tables: postgresColumns(postgres) }).toEqual({ v, tables: sqliteColumns(sqlite) });
      }
      expect(schemaVersion(postgres)).toBe(SCHEMA_VERSION);
    } finally {
      sqlite.close();
      postgres.close();
    }
  });

  it('keeps creation order ties in rowid, as SQLite does', async () => {
    const db = openStore({ dataDir: '/unused', url: await createDatabase(pg.url) });
    try {
      for (const d of ['c', 'a', 'b'])
        db.prepare('INSERT INTO departments (name, created_ms) VALUES (?, 0)').run(d);
      const names = db.prepare('SELECT name FROM departments ORDER BY created_ms, rowid').all();
      expect(names).toEqual([{ name: 'c' }, { name: 'a' }, { name: 'b' }]);
    } finally {
      db.close();
    }
  });

  it('three allocators starting at once against a fresh database migrate it once, without a race', async () => {
    const url = await createDatabase(pg.url);
    const dir = mkdtempSync(join(tmpdir(), 'tessera-pg-start-'));
    try {
      const script = join(dir, 'start.ts');
      const store = new URL('../../../allocator/store/db.ts', import.meta.url).href;
      writeFileSync(
        script,
        `import { openStore } from ${JSON.stringify(store)};
         const db = openStore({ dataDir: ${JSON.stringify(dir)}, url: process.argv[2] });
         db.close();`,
      );
      const tsx = new URL('../../../node_modules/.bin/tsx', import.meta.url).pathname;
      await Promise.all([1, 2, 3].map(() => run(tsx, [script, url])));
      const db = openPostgres(url);
      try {
        expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
        expect(migrate(db)).toBe(0);
      } finally {
        db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('refuses a database written by a newer Tessera, leaving it as it is', async () => {
    const url = await createDatabase(pg.url);
    openStore({ dataDir: '/unused', url }).close();
    const raw = openPostgres(url);
    raw.prepare(`UPDATE ${PG_VERSION_TABLE} SET version = ?`).run(SCHEMA_VERSION + 3);
    expect(() => openStore({ dataDir: '/unused', url })).toThrow(StoreError);
    expect(schemaVersion(raw)).toBe(SCHEMA_VERSION + 3);
    raw.close();
  });

  it('a session idle inside a transaction is ended, its locks released, and the next call reconnects', async () => {
    const url = await createDatabase(pg.url);
    const frozen = openStore({ dataDir: '/unused', url, idleInTransactionTimeoutMs: 200 });
    const other = openStore({ dataDir: '/unused', url, queryTimeoutMs: 5000 });
    try {
      frozen.prepare("INSERT INTO users (name, created_ms) VALUES ('u', 0)").run();
      expect(() =>
        inTransaction(frozen, () => {
          frozen.prepare("UPDATE users SET created_ms = 1 WHERE name = 'u'").run();
          // Frozen (as under SIGSTOP) with the row locked, past the timeout.
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
          frozen.prepare('SELECT 1').get();
        }),
      ).toThrow();
      // The lock went with the session: another connection writes the row at once.
      expect(other.prepare("UPDATE users SET created_ms = 2 WHERE name = 'u'").run().changes).toBe(1);
      ping(frozen);
      expect(frozen.prepare("SELECT created_ms FROM users WHERE name = 'u'").get()).toEqual({
        created_ms: 2,
      });
    } finally {
      frozen.close();
      other.close();
    }
  });
});
