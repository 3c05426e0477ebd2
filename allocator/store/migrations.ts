/**
 * Schema migrations: an ordered list of SQL steps, the same list on both backends; SQLite's
 * `PRAGMA user_version` or PostgreSQL's `tessera_schema_version` table records how many ran.
 * Steps are append-only: an applied step is never edited, a change is a new step.
 */
import { tesseraError } from '../../common/errors.ts';
import type { Db } from './db-types.ts';
import { postgresDdl } from './dialect.ts';
import { StoreError } from './errors.ts';
import { V4_ACCESS } from './migration-4-access.ts';
import { V5_POLICIES } from './migration-5-policies.ts';
import { V6_NODE_RESET } from './migration-6-node-reset.ts';
import { V7_TOKEN_PARENTS } from './migration-7-token-parents.ts';
import { V9_REGISTRY_SECRETS } from './migration-9-registry-secrets.ts';
import { V10_POD_REASON } from './migration-10-pod-reason.ts';
import { V11_PORTS } from './migration-11-ports.ts';
import { V12_WORKLOAD_RESTARTS } from './migration-12-workload-restarts.ts';
import { V13_LEADER } from './migration-13-leader.ts';

/** Migration 1: the whole first schema (docs/architecture.md §2 and §6). */
const V1 = `
CREATE TABLE departments (
  name TEXT PRIMARY KEY,
  created_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE projects (
  name TEXT PRIMARY KEY,
  department TEXT NOT NULL REFERENCES departments(name) ON DELETE RESTRICT,
  created_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE node_pools (
  name TEXT PRIMARY KEY,
  selector TEXT NOT NULL,        -- JSON {label: value}, all must match
  placement_gpu TEXT NOT NULL,
  placement_cpu TEXT NOT NULL,
  created_ms INTEGER NOT NULL
) STRICT;
-- queue is a department or a project (names are unique across both, checked on create).
CREATE TABLE quotas (
  queue TEXT NOT NULL,
  node_pool TEXT NOT NULL,
  gpu_milli INTEGER NOT NULL,
  over_quota_weight REAL NOT NULL,
  limit_gpu_milli INTEGER NOT NULL,
  cpu_millis INTEGER NOT NULL,
  limit_cpu_millis INTEGER NOT NULL,
  memory_mib INTEGER NOT NULL,
  limit_memory_mib INTEGER NOT NULL,
  PRIMARY KEY (queue, node_pool)
) STRICT;
CREATE TABLE nodes (
  name TEXT PRIMARY KEY,
  labels TEXT NOT NULL,          -- JSON {label: value}
  gpus TEXT NOT NULL,            -- JSON GpuSnap[]
  cpu_millis INTEGER NOT NULL,
  memory_mib INTEGER NOT NULL,
  schedulable INTEGER NOT NULL DEFAULT 1,
  cordoned INTEGER NOT NULL DEFAULT 0,
  last_seen_ms INTEGER NOT NULL,
  lost INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE workloads (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  project TEXT NOT NULL REFERENCES projects(name) ON DELETE RESTRICT,
  type TEXT NOT NULL,
  spec TEXT NOT NULL,            -- JSON WorkloadSpec, validated before insert
  phase TEXT NOT NULL,
  phase_reason TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  next_pod_ordinal INTEGER NOT NULL DEFAULT 0,
  below_min_since_ms INTEGER,
  UNIQUE (project, name)
) STRICT;
-- A pod is named <workload name>-<ordinal>, unique within its workload only.
CREATE TABLE pods (
  workload TEXT NOT NULL REFERENCES workloads(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  node TEXT REFERENCES nodes(name) ON DELETE RESTRICT,
  grants TEXT NOT NULL,          -- JSON GpuGrant[]
  gpu_milli INTEGER NOT NULL,    -- quota accounting, committed with the bind
  cpu_millis INTEGER NOT NULL,
  memory_mib INTEGER NOT NULL,
  phase TEXT NOT NULL,
  bound_ms INTEGER,
  exit_code INTEGER,
  PRIMARY KEY (workload, name)
) STRICT;
CREATE INDEX pods_node ON pods(node);
CREATE TABLE assignments (
  workload TEXT NOT NULL,
  pod TEXT NOT NULL,
  node TEXT NOT NULL REFERENCES nodes(name) ON DELETE RESTRICT,
  epoch INTEGER NOT NULL,
  state TEXT NOT NULL,           -- active | stopping | ended
  created_ms INTEGER NOT NULL,
  PRIMARY KEY (workload, pod, epoch),
  FOREIGN KEY (workload, pod) REFERENCES pods(workload, name) ON DELETE CASCADE
) STRICT;
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms INTEGER NOT NULL,
  workload TEXT NOT NULL,        -- no FK: history outlives a deleted workload
  from_phase TEXT,
  to_phase TEXT NOT NULL,
  reason TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX events_workload ON events(workload, id);
CREATE TABLE users (
  name TEXT PRIMARY KEY,
  created_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE tokens (
  hash TEXT PRIMARY KEY,
  user TEXT REFERENCES users(name) ON DELETE CASCADE,
  node TEXT,
  kind TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER
) STRICT;
CREATE TABLE access_rules (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  subject TEXT NOT NULL,
  role TEXT NOT NULL,
  scope TEXT NOT NULL,
  created_ms INTEGER NOT NULL
) STRICT;
`;

/**
 * Migration 1 on PostgreSQL: V1 in its types, with `user` quoted (a reserved word there; V2 drops
 * the column), and a `rowid` identity column on the tables whose order code reads SQLite's rowid
 * (creation-order ties, and the dispatcher's pages of pods in a phase), so those queries stay one
 * text.
 */
const V1_POSTGRES = `${postgresDdl(V1.replace('\n  user TEXT', '\n  "user" TEXT'))}
ALTER TABLE departments ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY;
ALTER TABLE projects ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY;
ALTER TABLE node_pools ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY;
ALTER TABLE workloads ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY;
ALTER TABLE pods ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY;
CREATE INDEX pods_phase_rowid ON pods (phase, rowid);
`;

/**
 * Migration 2: tokens are found by id (the middle part of `tj.<id>.<secret>`) and name their subject
 * (a node or a user). V1's table keyed them by hash alone and had no rows yet, so it is replaced.
 */
const V2 = `
DROP TABLE tokens;
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,            -- join | node | user
  subject TEXT,                  -- the node or user; NULL for a join token
  hash BLOB NOT NULL,            -- sha256 of the whole token; the token itself is never stored
  created_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX tokens_subject ON tokens(kind, subject);
CREATE INDEX pods_phase ON pods(phase);
`;

/** Migration 3: labels an admin sets on a node, kept apart from the agent's so a report never erases them. */
const V3 = `
ALTER TABLE nodes ADD COLUMN admin_labels TEXT NOT NULL DEFAULT '{}';  -- JSON {label: value}
`;

/**
 * Migration 8: indexes that keep finished work out of every cycle's reads. A workload row holds its
 * spec (up to 256 KiB, more in stores from before that cap) before `phase` and
 * `below_min_since_ms`, so a table scan reading those walks every spec's overflow pages; these
 * indexes answer the cycle's filters without touching the rows they leave out.
 */
const V8_WORKLOAD_INDEXES = `
CREATE INDEX workloads_phase ON workloads(phase, created_ms);
CREATE INDEX workloads_below_min ON workloads(below_min_since_ms) WHERE below_min_since_ms IS NOT NULL;
`;

/**
 * One step: SQLite DDL, which `postgresDdl` turns into PostgreSQL's, or both texts where that
 * translation does not do.
 */
export type Migration = string | { readonly sqlite: string; readonly postgres: string };

/** Every migration in order; the database's version is the count applied. */
export const MIGRATIONS: readonly Migration[] = [
  { sqlite: V1, postgres: V1_POSTGRES },
  V2,
  V3,
  V4_ACCESS,
  V5_POLICIES,
  V6_NODE_RESET,
  V7_TOKEN_PARENTS,
  V8_WORKLOAD_INDEXES,
  V9_REGISTRY_SECRETS,
  V10_POD_REASON,
  V11_PORTS,
  V12_WORKLOAD_RESTARTS,
  V13_LEADER,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Step `m` in `db`'s dialect. */
export function migrationSql(m: Migration, dialect: Db['dialect']): string {
  if (typeof m !== 'string') return m[dialect];
  return dialect === 'sqlite' ? m : postgresDdl(m);
}

/** PostgreSQL's record of the version; one row. Not part of the schema the migrations make. */
export const PG_VERSION_TABLE = 'tessera_schema_version';

/**
 * Key of the advisory lock PostgreSQL migrations hold: allocators starting together against a fresh
 * database apply each step once, one after another ("tess" in ASCII).
 */
const PG_MIGRATION_LOCK = 0x74657373;

/** The database's schema version. */
export function schemaVersion(db: Db): number {
  if (db.dialect === 'sqlite')
    return (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
  const exists = db.prepare('SELECT to_regclass(?) IS NOT NULL AS e').get(PG_VERSION_TABLE) as { e: number };
  if (exists.e !== 1) return 0;
  const row = db.prepare(`SELECT version FROM ${PG_VERSION_TABLE}`).get() as { version: number } | undefined;
  return row?.version ?? 0;
}

/**
 * Runs `fn` in a transaction that holds the migration lock: SQLite's write lock from the start
 * (BEGIN IMMEDIATE), PostgreSQL's advisory lock, with its version table made if missing.
 */
function underMigrationLock<T>(db: Db, fn: () => T): T {
  if (db.dialect === 'postgres')
    return db.transaction(() => {
      // Read committed, so what this step reads after the lock includes the steps others committed
      // while it waited (a repeatable-read snapshot would predate them).
      db.exec('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
      db.prepare('SELECT pg_advisory_xact_lock(?)').get(PG_MIGRATION_LOCK);
      db.exec(
        `CREATE TABLE IF NOT EXISTS ${PG_VERSION_TABLE} (one INTEGER PRIMARY KEY CHECK (one = 1), version INTEGER NOT NULL);
         INSERT INTO ${PG_VERSION_TABLE} VALUES (1, 0) ON CONFLICT DO NOTHING;`,
      );
      return fn();
    });
  db.exec('BEGIN IMMEDIATE');
  try {
    const out = fn();
    db.exec('COMMIT');
    return out;
  } catch (e) {
    db.exec('ROLLBACK');
    throw e;
  }
}

/** Records `version` as applied, inside the step's transaction. */
function setVersion(db: Db, version: number): void {
  // user_version takes no bound parameter; version is an integer we computed.
  if (db.dialect === 'sqlite') db.exec(`PRAGMA user_version = ${Math.trunc(version)}`);
  else db.prepare(`UPDATE ${PG_VERSION_TABLE} SET version = ?`).run(version);
}

/**
 * Applies every step the database lacks, each in its own transaction with its version bump, so a
 * crash leaves it at a whole version; each step re-reads the version under the migration lock, so
 * several allocators starting at once apply it once. Refuses a database written by newer code: an
 * older binary would otherwise write rows a newer schema does not expect. Returns the steps applied.
 */
export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): number {
  const refuseNewer = (current: number): void => {
    if (current <= migrations.length) return;
    throw new StoreError(
      tesseraError(
        'TESSERA_E_INVALID_CONFIG',
        `database ${db.name} has schema version ${current}, newer than this Tessera understands (${migrations.length}); run the newer Tessera or point ${db.dialect === 'sqlite' ? '--data at another directory' : '--store at another database'}`,
        { context: { dbVersion: current, codeVersion: migrations.length } },
      ),
    );
  };
  // Checked before any lock or write: refusing must leave a newer database untouched.
  refuseNewer(schemaVersion(db));
  let applied = 0;
  for (;;) {
    const stepped = underMigrationLock(db, () => {
      const v = schemaVersion(db);
      refuseNewer(v);
      const step = migrations[v];
      if (step === undefined) return false;
      db.exec(migrationSql(step, db.dialect));
      setVersion(db, v + 1);
      return true;
    });
    if (!stepped) return applied;
    applied++;
  }
}
