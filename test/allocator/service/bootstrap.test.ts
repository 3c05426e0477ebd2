import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { authenticate } from '../../../allocator/identity/index.ts';
import {
  ADMIN_TOKEN_FILE,
  bootstrap,
  DEFAULT_DEPARTMENT,
  DEFAULT_PROJECT,
  JOIN_TOKEN_FILE,
} from '../../../allocator/service/bootstrap.ts';
import type { Db } from '../../../allocator/store/db.ts';
import { listQueues } from '../../../allocator/store/org.ts';
import { sqliteTokenStore } from '../../../allocator/store/tokens.ts';
import { openTemp, T0, tempDir } from '../store/helpers.ts';

/** One allocator start in `dir`: opens the store and bootstraps it; the store is closed after the test. */
function start(dir: string, nowMs = T0) {
  const db: Db = openTemp(dir);
  const tokens = sqliteTokenStore(db, () => nowMs);
  return { db, tokens, boot: bootstrap(db, tokens, dir, nowMs) };
}

const read = (dir: string, file: string) => readFileSync(join(dir, file), 'utf8');
const modeOf = (dir: string, file: string) => statSync(join(dir, file)).mode & 0o777;

describe('bootstrap', () => {
  it('first start writes 0600 join and admin token files and creates department default, project main', () => {
    const dir = tempDir();
    const { db, tokens, boot } = start(dir);
    expect(boot.fresh).toBe(true);
    expect(read(dir, JOIN_TOKEN_FILE)).toBe(`${boot.joinToken}\n`);
    expect(read(dir, ADMIN_TOKEN_FILE)).toBe(`${boot.adminToken}\n`);
    expect(modeOf(dir, JOIN_TOKEN_FILE)).toBe(0o600);
    expect(modeOf(dir, ADMIN_TOKEN_FILE)).toBe(0o600);
    expect(authenticate(tokens, boot.joinToken)).toEqual({ kind: 'join' });
    expect(authenticate(tokens, boot.adminToken)).toEqual({ kind: 'user', user: 'admin' });
    expect(listQueues(db).map((q) => [q.name, q.parent])).toEqual([
      [DEFAULT_DEPARTMENT, null],
      [DEFAULT_PROJECT, DEFAULT_DEPARTMENT],
    ]);
  });

  it('a second start reuses both tokens and creates nothing', () => {
    const dir = tempDir();
    const first = start(dir);
    const files = [read(dir, JOIN_TOKEN_FILE), read(dir, ADMIN_TOKEN_FILE)];
    const stored = first.tokens.list();
    first.db.close();

    const second = start(dir, T0 + 1000);
    expect(second.boot).toEqual({
      joinToken: first.boot.joinToken,
      adminToken: first.boot.adminToken,
      fresh: false,
    });
    expect([read(dir, JOIN_TOKEN_FILE), read(dir, ADMIN_TOKEN_FILE)]).toEqual(files);
    expect(second.tokens.list()).toEqual(stored);
    expect(listQueues(second.db)).toHaveLength(2);
  });

  it('keeps an organisation someone built without the defaults as it is', () => {
    const dir = tempDir();
    const first = start(dir);
    first.db.prepare("DELETE FROM projects WHERE name = 'main'").run();
    const again = bootstrap(first.db, first.tokens, dir, T0 + 1);
    expect(again.fresh).toBe(false);
    expect(listQueues(first.db).map((q) => q.name)).toEqual([DEFAULT_DEPARTMENT]);
  });

  it('replaces a token file whose token no longer authenticates', () => {
    const dir = tempDir();
    const first = start(dir);
    // The admin token was revoked; the join token file was overwritten with something else.
    const adminId = first.boot.adminToken.split('.')[1] ?? '';
    first.tokens.delete(adminId);
    writeFileSync(join(dir, JOIN_TOKEN_FILE), 'tj.nope.nope\n');
    first.db.close();

    const second = start(dir, T0 + 1000);
    expect(second.boot.adminToken).not.toBe(first.boot.adminToken);
    expect(second.boot.joinToken).not.toBe(first.boot.joinToken);
    expect(second.boot.fresh).toBe(false);
    expect(read(dir, ADMIN_TOKEN_FILE)).toBe(`${second.boot.adminToken}\n`);
    expect(read(dir, JOIN_TOKEN_FILE)).toBe(`${second.boot.joinToken}\n`);
    expect(modeOf(dir, ADMIN_TOKEN_FILE)).toBe(0o600);
    expect(modeOf(dir, JOIN_TOKEN_FILE)).toBe(0o600);
    expect(authenticate(second.tokens, second.boot.adminToken)).toEqual({ kind: 'user', user: 'admin' });
    expect(authenticate(second.tokens, second.boot.joinToken)).toEqual({ kind: 'join' });
  });

  it('does not reuse a file holding a token of the wrong kind', () => {
    const dir = tempDir();
    const first = start(dir);
    // A join token in the admin file authenticates, but not as a user.
    writeFileSync(join(dir, ADMIN_TOKEN_FILE), `${first.boot.joinToken}\n`);
    const again = bootstrap(first.db, first.tokens, dir, T0 + 1);
    expect(again.adminToken).not.toBe(first.boot.joinToken);
    expect(authenticate(first.tokens, again.adminToken)?.kind).toBe('user');
  });
  it('registers a preset join token (a Helm Secret), writes it to the file, and refuses a malformed one', () => {
    const dir = tempDir();
    const db = openTemp(dir);
    const tokens = sqliteTokenStore(db);
    const preset = `tj.abcdEFGH1234.${'x'.repeat(40)}`;
    const boot = bootstrap(db, tokens, dir, T0, preset);
    expect(boot.joinToken).toBe(preset);
    expect(authenticate(tokens, preset)).toEqual({ kind: 'join' });
    expect(readFileSync(join(dir, 'join-token'), 'utf8').trim()).toBe(preset);
    // Again on the next start: idempotent.
    expect(bootstrap(db, tokens, dir, T0 + 1, preset).joinToken).toBe(preset);
    expect(() => bootstrap(db, tokens, dir, T0 + 2, 'tj.short.secret')).toThrow(/TESSERA_JOIN_TOKEN/);
  });
});
