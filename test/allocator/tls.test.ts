/**
 * The allocator over TLS: given a certificate it serves HTTPS and the agents' websocket as WSS and
 * records an https:// URL; a client that trusts the CA gets answers, one that does not is told what
 * is wrong and to pass --ca; a renewed certificate is served without a restart. `tessera allocator` refuses plain HTTP beyond loopback without
 * --insecure-http, and refuses a certificate file it cannot use, saying how to fix each.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { globalAgent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type RunningAllocator, startAllocator } from '../../allocator/main.ts';
import { ALLOCATOR_FILE } from '../../allocator/service/bootstrap.ts';
import { watchTlsFiles } from '../../allocator/service/tls-reload.ts';
import { createClient } from '../../cli/client/http.ts';
import { checkTransportFlags, isLoopback } from '../../cli/commands/allocator.ts';
import { CliError } from '../../cli/errors.ts';
import { createLogger } from '../../common/log.ts';
import { readCaFile, readServerTls } from '../../common/tls-files.ts';
import { runTessera } from '../cli-run.ts';
import { until } from '../helpers/wait.ts';
import { value } from '../result.ts';
import { makeTestTls } from '../tls.ts';

let tls: Awaited<ReturnType<typeof makeTestTls>>;
let other: Awaited<ReturnType<typeof makeTestTls>>;
let alloc: RunningAllocator;
let dir: string;
let admin: string;

beforeAll(async () => {
  [tls, other] = await Promise.all([makeTestTls(), makeTestTls()]);
  dir = mkdtempSync(join(tmpdir(), 'tessera-alloc-tls-'));
  alloc = await startAllocator({
    dataDir: dir,
    host: '127.0.0.1',
    port: 0,
    leaseMs: 3000,
    heartbeatMs: 500,
    log: createLogger({ stream: { write: () => true }, level: 'error' }),
    tls: value(readServerTls(tls.certFile, tls.keyFile, Date.now())),
    caFile: tls.caFile,
  });
  admin = readFileSync(alloc.adminTokenFile, 'utf8').trim();
}, 30_000);

afterAll(async () => {
  await alloc?.close();
  for (const d of [dir, tls?.dir, other?.dir])
    if (d !== undefined) rmSync(d, { recursive: true, force: true });
});

/** The CliError a promise rejects with. */
async function caught(p: Promise<unknown>): Promise<CliError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CliError) return e;
    throw e;
  }
  throw new Error('expected a CliError');
}

const ca = () => value(readCaFile(tls.caFile, '--ca'));

describe('an allocator with --tls-cert and --tls-key', () => {
  it('serves HTTPS and records its https:// URL and the CA in allocator.json', () => {
    expect(alloc.url).toBe(`https://127.0.0.1:${alloc.port}`);
    const info = JSON.parse(readFileSync(join(dir, ALLOCATOR_FILE), 'utf8')) as Record<string, unknown>;
    expect(info).toMatchObject({ url: alloc.url, ca: tls.caFile });
  });

  it('answers a client that trusts its CA', async () => {
    const client = createClient({ url: alloc.url, token: admin, urlFrom: '--url', ca: ca() });
    expect(await client.request('GET', '/whoami')).toMatchObject({ user: 'admin' });
  });

  it('is refused by a client without the CA, which is told to pass --ca', async () => {
    const e = await caught(
      createClient({ url: alloc.url, token: admin, urlFrom: '--url' }).request('GET', '/whoami'),
    );
    expect(e.error.code).toBe('TESSERA_E_UNAVAILABLE');
    expect(e.error.message).toMatch(/certificate this client does not trust/);
    expect(e.error.message).toMatch(/--ca FILE or set TESSERA_CA/);
  });

  it('is refused by a client trusting another CA, which names that CA file', async () => {
    const wrong = value(readCaFile(other.caFile, 'TESSERA_CA'));
    const e = await caught(
      createClient({ url: alloc.url, token: admin, urlFrom: '--url', ca: wrong }).request('GET', '/whoami'),
    );
    expect(e.error.message).toContain(other.caFile);
    expect(e.error.message).toMatch(/from TESSERA_CA\) did not sign/);
  });

  it('tells a client dialling http:// to use https://', async () => {
    const url = alloc.url.replace('https:', 'http:');
    const e = await caught(createClient({ url, token: admin, urlFrom: '--url' }).request('GET', '/whoami'));
    expect(e.error.code).toBe('TESSERA_E_UNAVAILABLE');
    expect(e.error.message).toMatch(/https:\/\//);
  });

  it("serves the agents' websocket as WSS, checked against the CA", async () => {
    const join = readFileSync(alloc.joinTokenFile, 'utf8').trim();
    const dial = (opts: { ca?: string }) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(`${alloc.url.replace('https', 'wss')}/api/v1/agents/connect`, {
          headers: { authorization: `Bearer ${join}` },
          ...opts,
        });
        ws.on('open', () => {
          resolve('open');
          ws.terminate();
        });
        ws.on('error', (e) => resolve((e as Error & { code?: string }).code ?? e.message));
      });
    expect(await dial({ ca: ca().pem })).toBe('open');
    expect(await dial({})).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });
});

describe('a renewed certificate', () => {
  it('is served to new connections without a restart', async () => {
    const renewed = value(readServerTls(other.certFile, other.keyFile, Date.now()));
    const original = value(readServerTls(tls.certFile, tls.keyFile, Date.now()));
    const otherCa = value(readCaFile(other.caFile, '--ca'));
    const ask = (trust: typeof otherCa) =>
      createClient({ url: alloc.url, token: admin, urlFrom: '--url', ca: trust }).request('GET', '/whoami');
    // Open (kept-alive) connections keep the certificate they began with: start afresh each time.
    const fresh = () => globalAgent.destroy();
    try {
      expect(alloc.setTls(renewed)).toBe(true);
      fresh();
      expect(await ask(otherCa)).toMatchObject({ user: 'admin' });
      expect((await caught(ask(ca()))).error.message).toMatch(/did not sign/);
    } finally {
      alloc.setTls(original);
      fresh();
    }
    expect(await ask(ca())).toMatchObject({ user: 'admin' });
  });

  it('is picked up from the files; a broken pair is logged and the old one kept', async () => {
    const files = mkdtempSync(join(tmpdir(), 'tessera-reload-'));
    const certFile = join(files, 'tls.crt');
    const keyFile = join(files, 'tls.key');
    const put = (from: { certFile: string; keyFile: string }, key = from.keyFile) => {
      copyFileSync(from.certFile, certFile);
      copyFileSync(key, keyFile);
    };
    put(tls);
    const applied: string[] = [];
    const warnings: string[] = [];
    const log = createLogger({
      stream: { write: (line: string) => (line.includes('"warn"') ? warnings.push(line) > 0 : true) },
      level: 'warn',
    });
    const stop = watchTlsFiles({
      certFile,
      keyFile,
      current: value(readServerTls(certFile, keyFile, Date.now())),
      everyMs: 20,
      apply: (t) => applied.push(t.cert),
      log,
    });
    try {
      await new Promise((r) => setTimeout(r, 80));
      expect(applied).toEqual([]);
      put(other, tls.keyFile); // a new certificate with the old key: refused
      await until(() => warnings.length > 0, 'a warning', 5000);
      expect(warnings[0]).toMatch(/does not match the certificate/);
      expect(applied).toEqual([]);
      put(other);
      await until(() => applied.length > 0, 'the new certificate applied', 5000);
      expect(applied).toEqual([readFileSync(other.certFile, 'utf8')]);
    } finally {
      stop();
      rmSync(files, { recursive: true, force: true });
    }
  });
});

describe('tessera allocator transport flags', () => {
  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost'])
      expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.5', 'alloc.example', '128.0.0.1'])
      expect(isLoopback(h), h).toBe(false);
  });

  it('allows plain HTTP on loopback, TLS anywhere, and plain HTTP elsewhere only with --insecure-http', () => {
    expect(() => checkTransportFlags({ host: '127.0.0.1', insecureHttp: false })).not.toThrow();
    expect(() =>
      checkTransportFlags({ host: '0.0.0.0', tlsCert: 'c', tlsKey: 'k', insecureHttp: false }),
    ).not.toThrow();
    expect(() => checkTransportFlags({ host: '0.0.0.0', insecureHttp: true })).not.toThrow();
    expect(() => checkTransportFlags({ host: '0.0.0.0', tlsCert: 'c', insecureHttp: false })).toThrow(
      /--tls-cert needs --tls-key/,
    );
    expect(() =>
      checkTransportFlags({ host: '0.0.0.0', tlsCert: 'c', tlsKey: 'k', insecureHttp: true }),
    ).toThrow(/contradict/);
  });

  it('refuses `--host 0.0.0.0` without TLS as a usage error that says every way to fix it', async () => {
    const r = await runTessera([
      'allocator',
      '--data',
      join(dir, 'never'),
      '--host',
      '0.0.0.0',
      '--port',
      '0',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/plain HTTP on 0\.0\.0\.0/);
    for (const fix of ['--tls-cert FILE', '--tls-key FILE', '--host 127.0.0.1', '--insecure-http'])
      expect(r.stderr).toContain(fix);
  });

  it('refuses a certificate it cannot read or a key of another certificate, naming the file', async () => {
    const args = ['allocator', '--data', join(dir, 'never'), '--port', '0'];
    const missing = await runTessera([
      ...args,
      '--tls-cert',
      join(dir, 'none.crt'),
      '--tls-key',
      tls.keyFile,
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--tls-cert .*none\.crt: cannot read it \(no such file\)/);
    const mismatched = await runTessera([...args, '--tls-cert', tls.certFile, '--tls-key', other.keyFile]);
    expect(mismatched.code).toBe(1);
    expect(mismatched.stderr).toMatch(/does not match the certificate/);
  });
});
