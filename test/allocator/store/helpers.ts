/**
 * Temp-dir databases and a small organisation for the store tests, on either backend: a test inside
 * `describeBackends` runs once on SQLite and once on PostgreSQL (a server per test file, a fresh
 * schema per store), so every repository test holds for both.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, it } from 'vitest';
import type { GpuSnap } from '../../../allocator/scheduler/snapshot.ts';
import { type Db, type Dialect, openDb, openStore } from '../../../allocator/store/db.ts';
import { upsertNode } from '../../../allocator/store/nodes.ts';
import { createDepartment, createProject, putPool, setQuota } from '../../../allocator/store/org.ts';
import { openPostgres } from '../../../allocator/store/postgres.ts';
import { POSTGRES_MISSING, startPostgres, type TestPostgres } from '../../helpers/postgres.ts';

/** Clock of the tests' first write. */
export const T0 = 1_700_000_000_000;

const dirs: string[] = [];
const open: Db[] = [];

afterEach(() => {
  for (const db of open.splice(0)) if (db.open) db.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The backend `openTemp` opens: set by `describeBackends` for its tests. */
let backend: Dialect = 'sqlite';
/** This file's PostgreSQL server, started by the first PostgreSQL block that runs. */
let server: Promise<{ pg: TestPostgres; admin: Db }> | null = null;
let schemas = 0;

afterAll(async () => {
  if (server === null) return;
  const { pg, admin } = await server;
  admin.close();
  await pg.stop();
});

/** This file's PostgreSQL: its URL and a connection that makes schemas. */
function postgres(): Promise<{ pg: TestPostgres; admin: Db }> {
  server ??= startPostgres().then((pg) => ({ pg, admin: openPostgres(pg.url) }));
  return server;
}

/** The open server, once a PostgreSQL block's beforeAll has waited for it. */
let ready: { pg: TestPostgres; admin: Db } | null = null;

/**
 * `describe(name, fn)` once per backend, `name (sqlite)` and `name (postgres)`; the PostgreSQL one
 * is skipped, saying why, where PostgreSQL is not installed.
 */
export function describeBackends(name: string, fn: () => void): void {
  for (const dialect of ['sqlite', 'postgres'] as const) {
    describe(`${name} (${dialect})`, () => {
      if (dialect === 'postgres' && POSTGRES_MISSING !== null) {
        it.skip(`skipped: ${POSTGRES_MISSING}`, () => {});
        return;
      }
      beforeAll(async () => {
        if (dialect === 'postgres') ready = await postgres();
      });
      beforeEach(() => {
        backend = dialect;
      });
      afterEach(() => {
        backend = 'sqlite';
      });
      fn();
    });
  }
}

/** A fresh, empty schema on this file's server, as a URL whose sessions use it. */
function freshSchemaUrl(): string {
  if (ready === null) throw new Error('openTemp on PostgreSQL outside describeBackends');
  const schema = `s${++schemas}`;
  ready.admin.exec(`CREATE SCHEMA ${schema}`);
  const url = new URL(ready.pg.url);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

/** A fresh data directory, removed after the test. */
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tessera-store-'));
  dirs.push(d);
  return d;
}

/**
 * Opens a fresh store, closed after the test: SQLite in `dir` (a fresh temp dir by default), or,
 * in a `describeBackends` PostgreSQL block, a fresh schema on this file's server.
 */
export function openTemp(dir: string = tempDir()): Db {
  const db =
    backend === 'sqlite' ? openDb({ dataDir: dir }) : openStore({ dataDir: dir, url: freshSchemaUrl() });
  open.push(db);
  return db;
}

/** `count` GPUs of one model named after the node. */
export function gpus(node: string, count: number, model = 'H100', memoryMiB = 81_920): GpuSnap[] {
  return Array.from({ length: count }, (_, i) => ({
    uuid: `GPU-${node}-${i}`,
    index: i,
    model,
    memoryMiB,
    healthy: true,
  }));
}

/** Unwraps a Result in a test, failing with its message. */
export function must<T>(r: { ok: true; value: T } | { ok: false; error: { message: string } }): T {
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

/**
 * Department `research` with projects `vision` (deserved 4 GPUs in default) and `nlp` (2 GPUs),
 * a pool `a100` selecting `gpu.model=A100` (spread), nodes n1, n2 (4xH100, default pool) and
 * n3 (4xA100, pool a100).
 */
export function smallOrg(db: Db): void {
  must(createDepartment(db, 'research', T0));
  must(createProject(db, 'vision', 'research', T0 + 1));
  must(createProject(db, 'nlp', 'research', T0 + 2));
  must(setQuota(db, 'vision', 'default', { deserved: { gpuMilli: 4000 } }));
  must(setQuota(db, 'nlp', 'default', { deserved: { gpuMilli: 2000 }, overQuotaWeight: 2 }));
  putPool(db, { name: 'a100', selector: { 'gpu.model': 'A100' }, placementGpu: 'spread' }, T0);
  for (const n of ['n1', 'n2']) {
    upsertNode(
      db,
      {
        name: n,
        labels: { 'gpu.model': 'H100' },
        gpus: gpus(n, 4),
        cpuMillis: 64_000,
        memoryMiB: 512_000,
        network: { address: `10.0.0.${n.slice(1)}`, portRange: { first: 40_000, last: 40_999 } },
      },
      T0,
    );
  }
  upsertNode(
    db,
    {
      name: 'n3',
      labels: { 'gpu.model': 'A100', 'node.type': 'dgx' },
      gpus: gpus('n3', 4, 'A100', 40_960),
      cpuMillis: 64_000,
      memoryMiB: 512_000,
      network: { address: '10.0.0.3', portRange: { first: 40_000, last: 40_999 } },
    },
    T0,
  );
}

/** A training spec in `project` asking for `gpus` whole GPUs. */
export function training(name: string, project = 'vision', gpuDevices = 1): Record<string, unknown> {
  return { name, project, type: 'training', command: ['python', 'train.py'], resources: { gpuDevices } };
}
