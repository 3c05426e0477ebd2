import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ConfigSources,
  DEFAULT_URL,
  defaultConfigPath,
  loadConfig,
  loadConfigFromEnvironment,
  readConfigFile,
  type TesseraConfig,
} from '../../common/config.ts';
import type { Result } from '../../common/errors.ts';
import { failure, value } from '../result.ts';

function load(partial: Partial<ConfigSources>): Result<TesseraConfig> {
  return loadConfig({
    flags: {},
    env: {},
    file: undefined,
    filePath: '/home/u/.config/tessera/config.json',
    ...partial,
  });
}

const all: Partial<ConfigSources> = {
  flags: { url: 'http://flag:1', token: 'flag-token' },
  env: { TESSERA_URL: 'http://env:2', TESSERA_TOKEN: 'env-token' },
  file: { url: 'http://file:3', token: 'file-token' },
};

describe('loadConfig precedence', () => {
  it('takes flags over env over file', () => {
    expect(value(load(all))).toEqual({
      url: 'http://flag:1',
      token: 'flag-token',
      ca: undefined,
      sources: { url: 'flag', token: 'flag', ca: undefined },
    });
    expect(value(load({ ...all, flags: {} }))).toMatchObject({ url: 'http://env:2', token: 'env-token' });
    expect(value(load({ ...all, flags: {}, env: {} }))).toMatchObject({
      url: 'http://file:3',
      token: 'file-token',
      sources: { url: 'file', token: 'file' },
    });
  });

  it('resolves url and token independently', () => {
    expect(value(load({ ...all, flags: { token: 'flag-token' } }))).toMatchObject({
      url: 'http://env:2',
      token: 'flag-token',
      sources: { url: 'env', token: 'flag' },
    });
  });

  it('falls back to the default URL and no token', () => {
    expect(value(load({}))).toEqual({
      url: DEFAULT_URL,
      token: undefined,
      ca: undefined,
      sources: { url: 'default', token: undefined, ca: undefined },
    });
  });

  it('takes the CA file from --ca over TESSERA_CA over the file', () => {
    const cas: Partial<ConfigSources> = {
      flags: { ca: '/flag/ca.crt' },
      env: { TESSERA_CA: '/env/ca.crt' },
      file: { ca: '/file/ca.crt' },
    };
    expect(value(load(cas))).toMatchObject({ ca: '/flag/ca.crt', sources: { ca: 'flag' } });
    expect(value(load({ ...cas, flags: {} }))).toMatchObject({ ca: '/env/ca.crt', sources: { ca: 'env' } });
    expect(value(load({ ...cas, flags: {}, env: { TESSERA_CA: '' } }))).toMatchObject({
      ca: '/file/ca.crt',
      sources: { ca: 'file' },
    });
    expect(failure(load({ file: { ca: 7 } })).field).toBe('ca');
  });

  it('treats an empty env variable as unset', () => {
    expect(value(load({ ...all, flags: {}, env: { TESSERA_TOKEN: '' } }))).toMatchObject({
      token: 'file-token',
      sources: { token: 'file' },
    });
  });

  it('drops a trailing slash from the URL', () => {
    expect(value(load({ flags: { url: 'https://tessera.example.com/' } })).url).toBe(
      'https://tessera.example.com',
    );
  });

  it('ignores unknown keys in the file, for configs written by newer versions', () => {
    expect(value(load({ file: { url: 'http://file:3', theme: 'dark' } })).url).toBe('http://file:3');
  });
});

describe('loadConfig refusals', () => {
  it('refuses a URL that is not http(s), naming its source', () => {
    const e = failure(load({ env: { TESSERA_URL: 'tessera.local:7400' } }));
    expect(e.code).toBe('TESSERA_E_INVALID_CONFIG');
    expect(e.field).toBe('url');
    expect(e.message).toContain('TESSERA_URL');
    expect(e.message).toContain('"tessera.local:7400"');
    expect(failure(load({ flags: { url: 'not a url' } })).message).toContain('--url');
  });

  it('refuses a token with whitespace', () => {
    expect(failure(load({ flags: { token: 'abc def' } })).message).toContain('--token');
  });

  it('refuses a file that is not an object or has non-string values, naming the file', () => {
    const e = failure(load({ file: [1] }));
    expect(e.message).toContain('/home/u/.config/tessera/config.json');
    expect(e.message).toContain('JSON object');
    const t = failure(load({ file: { token: 42 } }));
    expect(t.field).toBe('token');
    expect(t.message).toContain('token must be a string');
  });

  it('refuses a broken file even when flags would override it, so the breakage is seen', () => {
    expect(failure(load({ ...all, file: 'x' })).code).toBe('TESSERA_E_INVALID_CONFIG');
  });
});

describe('reading the file', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('puts the default file under ~/.config/tessera', () => {
    expect(defaultConfigPath('/home/u')).toBe('/home/u/.config/tessera/config.json');
  });

  it('reads a missing file as no file', async () => {
    expect(value(await readConfigFile(join(dir, 'missing.json')))).toBeUndefined();
  });

  it('refuses a file that is not JSON, naming the path', async () => {
    const path = join(dir, 'bad.json');
    await writeFile(path, '{ url: ');
    const e = failure(await readConfigFile(path));
    expect(e.code).toBe('TESSERA_E_INVALID_CONFIG');
    expect(e.message).toContain(path);
    expect(e.message).toContain('not valid JSON');
  });

  it('loads flags, the given env and the file together', async () => {
    const path = join(dir, 'config.json');
    await writeFile(path, JSON.stringify({ url: 'http://file:3', token: 'file-token' }));
    const c = value(await loadConfigFromEnvironment({ url: 'http://flag:1' }, { env: {}, path }));
    expect(c).toEqual({
      url: 'http://flag:1',
      token: 'file-token',
      ca: undefined,
      sources: { url: 'flag', token: 'file', ca: undefined },
    });
  });
});
