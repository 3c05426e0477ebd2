/**
 * `tessera login`, `user`, `access` and `token` through `runCli` against a live API with a SQLite
 * store and RBAC: an admin makes a user, grants it a role, mints its token; the user logs in and
 * the stored config is what later commands use.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../allocator/store/db.ts';
import { createDepartment, createProject } from '../../allocator/store/org.ts';
import { writeLogin } from '../../cli/commands/login.ts';
import { type LiveApi, startLiveApi } from './live-api.ts';

let api: LiveApi;
let db: Db;
let url: string;
let admin: string;
let configFile: string;

beforeAll(async () => {
  api = await startLiveApi({
    prefix: 'tessera-login-',
    tokens: 'sqlite',
    configFile: (dir) => join(dir, 'conf', 'config.json'),
  });
  ({ db, url, admin } = api);
  configFile = join(api.dir, 'conf', 'config.json');
  for (const r of [createDepartment(db, 'research', 0), createProject(db, 'vision', 'research', 0)])
    if (!r.ok) throw new Error(r.error.message);
});

afterAll(() => api.close());

/** `tessera ARGS` as typed: login and the user's own commands carry no --token. */
const tessera = (...args: string[]) => api.run(...args);

const asAdmin = (...args: string[]) => tessera(...args, '--url', url, '--token', admin);

describe('tessera login', () => {
  it('refuses a token the allocator does not know, writing nothing', async () => {
    const r = await tessera('login', '--url', url, '--token', 'tu.0000000000000000.nope');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('TESSERA_E_UNAUTHENTICATED');
    expect(() => statSync(configFile)).toThrow();
  });

  it('needs --token', async () => {
    const r = await tessera('login', '--url', url);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--token');
  });

  it('admin creates a user, grants a role and mints a token; the user logs in and works from the stored config', async () => {
    expect((await asAdmin('user', 'create', 'alice')).code).toBe(0);
    const users = await asAdmin('user', 'list', '-o', 'json');
    expect(JSON.parse(users.stdout)).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'alice' })]),
    );

    const grant = await asAdmin('access', 'grant', 'alice', 'researcher', 'project/vision');
    expect(grant.stderr).toBe('');
    expect(grant.stdout).toMatch(/^rule \d+: alice is researcher on project\/vision\n$/);
    const bad = await asAdmin('access', 'grant', 'alice', 'researcher', 'project/nope');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('no project named nope');

    const minted = await asAdmin(
      'token',
      'create',
      '--user',
      'alice',
      '--expires',
      '30d',
      '--name',
      'laptop',
    );
    expect(minted.code).toBe(0);
    const token = minted.stdout.trim();
    expect(token).toMatch(/^tu\.[0-9a-f]{16}\.\S+$/);
    expect(minted.stderr).toContain('tessera login');

    // Some other setting in the file survives the login.
    mkdirSync(join(api.dir, 'conf'), { recursive: true });
    writeFileSync(configFile, JSON.stringify({ theme: 'dark' }));
    const login = await tessera('login', '--url', url, '--token', token);
    expect(login.stderr).toBe('');
    expect(login.code).toBe(0);
    expect(login.stdout).toContain('as alice (researcher on project/vision)');
    expect(statSync(configFile).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(configFile, 'utf8'))).toEqual({ theme: 'dark', url, token });

    // No --url or --token from here on: the config file supplies both.
    const submit = await tessera(
      'submit',
      'training',
      'job',
      '-p',
      'vision',
      '--gpu-fraction',
      '0.5',
      '--',
      'true',
    );
    expect(submit.stderr).toBe('');
    expect(submit.code).toBe(0);
    const mine = await tessera('token', 'list', '-o', 'json');
    expect(JSON.parse(mine.stdout)).toEqual([expect.objectContaining({ subject: 'alice', name: 'laptop' })]);
    const denied = await tessera('user', 'list');
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('TESSERA_E_FORBIDDEN');
    expect(denied.stderr).toContain('admin on cluster');

    const own = await tessera('token', 'create', '--expires', '1h');
    expect(own.code).toBe(0);
    expect(own.stderr).not.toContain('no later than');
    // Made with the 30-day laptop token, a 90-day token gets the laptop token's expiry.
    const longer = await tessera('token', 'create', '--expires', '90d', '-o', 'json');
    const laptop = (JSON.parse(mine.stdout) as { expiresAt: string }[])[0]?.expiresAt;
    expect(JSON.parse(longer.stdout)).toMatchObject({ expiresAt: laptop });
    const clamped = await tessera('token', 'create', '--expires', '90d');
    expect(clamped.stderr).toContain('no later than the token you minted it with');
    const ownId = own.stdout.trim().split('.')[1] ?? '';
    const revoked = await tessera('token', 'revoke', ownId);
    expect(revoked.stdout).toBe(`token ${ownId} revoked\n`);
    const listed = await tessera('token', 'list');
    expect(listed.stdout).toMatch(new RegExp(`${ownId}\\s+user\\s+alice\\s+-\\s+revoked`));
  });

  it('access list and revoke; user delete revokes the user tokens', async () => {
    const list = await asAdmin('access', 'list', '-o', 'json');
    const rules = JSON.parse(list.stdout) as { id: number; subject: string }[];
    const alices = rules.filter((r) => r.subject === 'alice');
    expect(alices).toHaveLength(1);
    const revoke = await asAdmin('access', 'revoke', String(alices[0]?.id));
    expect(revoke.stdout).toContain('alice is no longer researcher on project/vision');
    const gone = await tessera('list');
    expect(gone.code).toBe(0);
    expect(gone.stdout).not.toContain('job');

    expect((await asAdmin('user', 'delete', 'alice')).code).toBe(0);
    const after = await tessera('list');
    expect(after.code).toBe(1);
    expect(after.stderr).toContain('TESSERA_E_UNAUTHENTICATED');
  });

  it('token create --node still makes a join token and refuses user-token flags', async () => {
    const join = await asAdmin('token', 'create', '--node');
    expect(join.stdout).toMatch(/^tj\./);
    // The suggested command passes the token by environment, where ps does not show it.
    expect(join.stderr).toMatch(/On the new node: TESSERA_TOKEN=tj\.\S+ tessera agent --allocator http/);
    expect(join.stderr).not.toContain('--token');
    const mixed = await asAdmin('token', 'create', '--node', '--expires', '1d');
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toContain('--expires');
  });
});

describe('writeLogin', () => {
  it('stores the CA file next to url and token, keeping other keys, mode 0600', async () => {
    const path = join(api.dir, 'ca-login', 'config.json');
    mkdirSync(join(api.dir, 'ca-login'), { recursive: true });
    writeFileSync(path, JSON.stringify({ theme: 'dark' }));
    await writeLogin(path, 'https://alloc:7400', 'tu.a.b', '/etc/tessera/ca.crt');
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({
      theme: 'dark',
      url: 'https://alloc:7400',
      token: 'tu.a.b',
      ca: '/etc/tessera/ca.crt',
    });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});
