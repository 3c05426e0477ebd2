import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { DB_FILE, openDb } from '../../../allocator/store/db.ts';
import { StoreError } from '../../../allocator/store/errors.ts';
import { MIGRATIONS, migrate, SCHEMA_VERSION, schemaVersion } from '../../../allocator/store/migrations.ts';
import { sqliteDb } from '../../../allocator/store/sqlite.ts';
import { openTemp, tempDir } from './helpers.ts';

describe('opening the store', () => {
  it('sets WAL, synchronous=FULL, foreign keys and a busy timeout', () => {
    const db = openTemp();
    const pragma = (name: string) => Object.values(db.prepare(`PRAGMA ${name}`).get() as object)[0];
    expect(pragma('journal_mode')).toBe('wal');
    expect(pragma('synchronous')).toBe(2);
    expect(pragma('foreign_keys')).toBe(1);
    expect(pragma('busy_timeout')).toBe(5000);
  });

  it('creates every table of the schema at the current version', () => {
    const db = openTemp();
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    const tables = (
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
        name: string;
      }[]
    ).map((t) => t.name);
    for (const t of [
      'departments',
      'projects',
      'quotas',
      'node_pools',
      'nodes',
      'workloads',
      'pods',
      'assignments',
      'events',
      'users',
      'tokens',
      'access_rules',
      'registry_secrets',
    ])
      expect(tables).toContain(t);
  });

  it('keeps the database file and its WAL readable by the owner alone (it holds registry passwords)', () => {
    const dir = tempDir();
    const db = openTemp(dir);
    db.prepare("INSERT INTO departments (name, created_ms) VALUES ('d', 0)").run();
    const mode = (f: string) => statSync(join(dir, f)).mode & 0o777;
    expect(mode(DB_FILE)).toBe(0o600);
    expect(mode(`${DB_FILE}-wal`)).toBe(0o600);
    db.close();
  });

  it('narrows a database file an older release left world-readable', () => {
    const dir = tempDir();
    openDb({ dataDir: dir }).close();
    chmodSync(join(dir, DB_FILE), 0o644);
    writeFileSync(join(dir, `${DB_FILE}-wal`), '');
    chmodSync(join(dir, `${DB_FILE}-wal`), 0o644);
    openTemp(dir);
    expect(statSync(join(dir, DB_FILE)).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, `${DB_FILE}-wal`)).mode & 0o777).toBe(0o600);
  });
});

describe('migrations', () => {
  it('are idempotent: reopening applies nothing and keeps the version', () => {
    const dir = tempDir();
    openDb({ dataDir: dir }).close();
    const db = openTemp(dir);
    expect(migrate(db)).toBe(0);
    expect(schemaVersion(db)).toBe(MIGRATIONS.length);
  });

  it('refuse a database newer than the code with a clear error', () => {
    const dir = tempDir();
    const raw = new Database(join(dir, DB_FILE));
    raw.pragma(`user_version = ${SCHEMA_VERSION + 3}`);
    raw.close();
    let thrown: unknown;
    try {
      openDb({ dataDir: dir }).close();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(StoreError);
    expect((thrown as StoreError).error.message).toMatch(
      new RegExp(
        `schema version ${SCHEMA_VERSION + 3}, newer than this Tessera understands \\(${SCHEMA_VERSION}\\)`,
      ),
    );
    // Refusing must not have touched the file: the version is still the newer one.
    const check = sqliteDb(new Database(join(dir, DB_FILE)));
    expect(schemaVersion(check)).toBe(SCHEMA_VERSION + 3);
    check.close();
  });

  it('apply each step in a transaction: a failing step leaves the previous version whole', () => {
    const raw = sqliteDb(new Database(':memory:'));
    const steps = ['CREATE TABLE a (x INTEGER)', 'CREATE TABLE b (y INTEGER); CREATE TABLE a (z INTEGER)'];
    expect(() => migrate(raw, steps)).toThrow(/already exists/);
    expect(schemaVersion(raw)).toBe(1);
    expect(raw.prepare("SELECT name FROM sqlite_master WHERE name = 'b'").get()).toBeUndefined();
    raw.close();
  });

  it('apply only the steps a database lacks', () => {
    const raw = sqliteDb(new Database(':memory:'));
    expect(migrate(raw, ['CREATE TABLE a (x INTEGER)'])).toBe(1);
    expect(migrate(raw, ['CREATE TABLE a (x INTEGER)', 'CREATE TABLE b (y INTEGER)'])).toBe(1);
    expect(schemaVersion(raw)).toBe(2);
    raw.close();
  });
});
