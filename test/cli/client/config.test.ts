import { readFileSync, rmSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type ClientConfig,
  type ClientFlags,
  NO_ALLOCATOR,
  type ReadFile,
  resolveClientConfig,
} from '../../../cli/client/config.ts';
import type { Result } from '../../../common/errors.ts';
import { failure, value } from '../../result.ts';
import { makeTestTls } from '../../tls.ts';

const HOME = '/home/ada';
const CONFIG = '/home/ada/.config/tessera/config.json';

/** A ReadFile over an in-memory map; a path mapped to an Error throws it. */
function files(map: Record<string, string | Error>): ReadFile {
  return async (path) => {
    const v = map[path];
    if (v instanceof Error) throw v;
    return v;
  };
}

function resolve(
  flags: ClientFlags,
  env: Record<string, string | undefined>,
  map: Record<string, string | Error> = {},
): Promise<Result<ClientConfig>> {
  return resolveClientConfig(flags, env, files(map), HOME);
}

const upDir = {
  'tessera-data/allocator.json': JSON.stringify({ url: 'http://127.0.0.1:7401', pid: 42 }),
  'tessera-data/admin-token': 'tu.admin.secret\n',
};

describe('client config resolution', () => {
  it('takes flags over env over the config file over a local tessera up', async () => {
    const env = { TESSERA_URL: 'http://env:1', TESSERA_TOKEN: 'tu.env.t' };
    const map = { [CONFIG]: JSON.stringify({ url: 'http://file:2', token: 'tu.file.t' }), ...upDir };
    expect(value(await resolve({ url: 'http://flag:3/', token: 'tu.flag.t' }, env, map))).toEqual({
      url: 'http://flag:3',
      token: 'tu.flag.t',
      urlFrom: '--url',
    });
    expect(value(await resolve({}, env, map))).toEqual({
      url: 'http://env:1',
      token: 'tu.env.t',
      urlFrom: 'TESSERA_URL',
    });
    expect(value(await resolve({}, {}, map))).toEqual({
      url: 'http://file:2',
      token: 'tu.file.t',
      urlFrom: CONFIG,
    });
    expect(value(await resolve({}, {}, upDir))).toEqual({
      url: 'http://127.0.0.1:7401',
      token: 'tu.admin.secret',
      urlFrom: 'tessera-data/allocator.json',
    });
  });

  it('treats empty env values as unset', async () => {
    const r = value(await resolve({}, { TESSERA_URL: '', TESSERA_TOKEN: '' }, upDir));
    expect(r.url).toBe('http://127.0.0.1:7401');
    expect(r.token).toBe('tu.admin.secret');
  });

  it('reads the config file TESSERA_CONFIG names instead of the home one', async () => {
    const map = {
      '/tmp/t.json': JSON.stringify({ url: 'http://other:9' }),
      [CONFIG]: JSON.stringify({ url: 'http://home:1' }),
    };
    expect(value(await resolve({}, { TESSERA_CONFIG: '/tmp/t.json' }, map)).url).toBe('http://other:9');
  });

  it('looks for tessera up in --data, else TESSERA_DATA', async () => {
    const map = {
      '/srv/up/allocator.json': JSON.stringify({ url: 'http://127.0.0.1:9000', pid: 1 }),
      '/srv/up/admin-token': 'tu.a.b',
      '/env/up/allocator.json': JSON.stringify({ url: 'http://127.0.0.1:9001', pid: 1 }),
    };
    expect(value(await resolve({ data: '/srv/up' }, { TESSERA_DATA: '/env/up' }, map)).url).toBe(
      'http://127.0.0.1:9000',
    );
    const fromEnv = value(await resolve({}, { TESSERA_DATA: '/env/up' }, map));
    expect(fromEnv).toEqual({
      url: 'http://127.0.0.1:9001',
      token: undefined,
      urlFrom: '/env/up/allocator.json',
    });
  });

  it('keeps a token given by flag or env when the URL comes from tessera up', async () => {
    expect(value(await resolve({ token: 'tu.mine.x' }, {}, upDir)).token).toBe('tu.mine.x');
  });

  it('says how to name an allocator when no source does', async () => {
    const e = failure(await resolve({ token: 'tu.a.b' }, {}, {}));
    expect(e.code).toBe('TESSERA_E_UNAVAILABLE');
    expect(e.message).toBe(NO_ALLOCATOR);
    expect(e.message).toContain('pass --url, set TESSERA_URL, or run tessera up');
  });

  it('reports a broken config file, allocator.json or bad URL with the path and source', async () => {
    const broken = failure(await resolve({}, {}, { [CONFIG]: '{not json' }));
    expect(broken.code).toBe('TESSERA_E_INVALID_CONFIG');
    expect(broken.message).toContain(CONFIG);
    const wrongShape = failure(await resolve({}, {}, { 'tessera-data/allocator.json': '{"port": 1}' }));
    expect(wrongShape.message).toContain('tessera-data/allocator.json');
    const badUrl = failure(await resolve({ url: 'ftp://x' }, {}, {}));
    expect(badUrl).toMatchObject({
      code: 'TESSERA_E_INVALID_CONFIG',
      field: 'url',
      context: { source: 'flag' },
    });
    const unreadable = failure(await resolve({}, {}, { [CONFIG]: new Error('EACCES: permission denied') }));
    expect(unreadable.message).toContain('permission denied');
  });

  describe('the CA to trust', () => {
    const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    // A real certificate, so the PEM check passes: the CA of a throwaway tessera up.
    let caPem = '';
    beforeAll(async () => {
      const t = await makeTestTls();
      caPem = readFileSync(t.caFile, 'utf8');
      rmSync(t.dir, { recursive: true, force: true });
    }, 30_000);

    it('reads --ca, TESSERA_CA or the config file (relative to that file), naming the source', async () => {
      const url = { url: 'https://alloc:7400' };
      expect(value(await resolve({ ...url, ca: '/x/flag.crt' }, {}, { '/x/flag.crt': caPem })).ca).toEqual({
        pem: caPem,
        path: '/x/flag.crt',
        from: '--ca',
      });
      const env = { TESSERA_CA: '/x/env.crt' };
      expect(value(await resolve(url, env, { '/x/env.crt': caPem })).ca?.from).toBe('TESSERA_CA');
      const file = { [CONFIG]: JSON.stringify({ url: 'https://alloc:7400', ca: 'ca.crt' }) };
      const fromFile = value(await resolve({}, {}, { ...file, '/home/ada/.config/tessera/ca.crt': caPem }));
      expect(fromFile.ca?.path).toBe('/home/ada/.config/tessera/ca.crt');
    });

    it('uses the CA a local tessera up recorded, unless one is named', async () => {
      const up = {
        'tessera-data/allocator.json': JSON.stringify({
          url: 'https://127.0.0.1:7401',
          pid: 42,
          ca: '/d/tls/ca.crt',
        }),
        'tessera-data/admin-token': 'tu.admin.secret\n',
        '/d/tls/ca.crt': caPem,
        '/mine.crt': caPem,
      };
      expect(value(await resolve({}, {}, up)).ca?.path).toBe('/d/tls/ca.crt');
      expect(value(await resolve({ ca: '/mine.crt' }, {}, up)).ca?.path).toBe('/mine.crt');
    });

    it('refuses a CA file that is missing or holds no certificate, naming it and its setting', async () => {
      const missing = failure(await resolve({ url: 'https://a:1', ca: '/none.crt' }, {}, {}));
      expect(missing).toMatchObject({ code: 'TESSERA_E_INVALID_CONFIG', field: '--ca' });
      expect(missing.message).toMatch(/\/none\.crt: cannot read it \(no such file\)/);
      const junk = failure(
        await resolve({ url: 'https://a:1' }, { TESSERA_CA: '/junk' }, { '/junk': 'hello' }),
      );
      expect(junk.message).toMatch(/TESSERA_CA \/junk: holds no PEM certificate/);
      const broken = failure(await resolve({ url: 'https://a:1', ca: '/b.crt' }, {}, { '/b.crt': PEM }));
      expect(broken.message).toMatch(/cannot be parsed/);
    });
  });
});
