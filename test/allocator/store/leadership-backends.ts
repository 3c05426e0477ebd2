/**
 * The stores the leader lease tests run on, as pairs of connections to one fresh database (two
 * allocators): SQLite (two connections to one file) always, PostgreSQL (a real server started for the
 * test file, one database per pair) where its binaries are installed.
 */
import { afterAll, afterEach } from 'vitest';
import { type Db, openStore } from '../../../allocator/store/db.ts';
import {
  createDatabase,
  POSTGRES_MISSING,
  startPostgres,
  type TestPostgres,
} from '../../helpers/postgres.ts';
import { openTemp, tempDir } from './helpers.ts';

/** A backend: its name and a way to open two connections to one fresh database. */
export interface LeaseBackend {
  name: string;
  pair(): Promise<[Db, Db]>;
}

/** SQLite: two connections to one file in a temp dir. */
const sqlite: LeaseBackend = {
  name: 'sqlite',
  pair: async () => {
    const dir = tempDir();
    return [openTemp(dir), openTemp(dir)];
  },
};

let server: Promise<TestPostgres> | null = null;
const opened: Db[] = [];
afterEach(() => {
  for (const db of opened.splice(0)) if (db.open) db.close();
});
afterAll(async () => {
  if (server !== null) await (await server).stop();
});

/** PostgreSQL: a server for the whole file, started on first use; a fresh database per pair. */
const postgres: LeaseBackend = {
  name: 'postgres',
  pair: async () => {
    server ??= startPostgres();
    const url = await createDatabase((await server).url);
    const one = openStore({ dataDir: tempDir(), url });
    const two = openStore({ dataDir: tempDir(), url });
    opened.push(one, two);
    return [one, two];
  },
};

/** Every backend available here (PostgreSQL's absence is printed once, not silently skipped). */
export function storeBackends(): LeaseBackend[] {
  if (POSTGRES_MISSING !== null)
    process.stderr.write(`leader lease tests on SQLite only: ${POSTGRES_MISSING}\n`);
  return POSTGRES_MISSING === null ? [sqlite, postgres] : [sqlite];
}
