/**
 * Reading the allocator's certificate and key and a client's CA file: good files load, and each
 * broken one (missing, not PEM, a key of another certificate, expired) is refused with a message
 * naming the flag, the file and the fix.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkValidity, readCaFile, readServerTls } from '../../common/tls-files.ts';
import { failure, value } from '../result.ts';
import { makeTestTls } from '../tls.ts';

let a: Awaited<ReturnType<typeof makeTestTls>>;
let b: Awaited<ReturnType<typeof makeTestTls>>;

beforeAll(async () => {
  [a, b] = await Promise.all([makeTestTls(), makeTestTls()]);
}, 30_000);

afterAll(() => {
  for (const t of [a, b]) if (t !== undefined) rmSync(t.dir, { recursive: true, force: true });
});

describe('readServerTls', () => {
  it('loads a certificate with its own key', () => {
    const tls = value(readServerTls(a.certFile, a.keyFile, Date.now()));
    expect(tls.cert).toContain('-----BEGIN CERTIFICATE-----');
    expect(tls.key).toContain('PRIVATE KEY-----');
  });

  it('refuses a missing certificate file, naming the flag and the file', () => {
    const e = failure(readServerTls(join(a.dir, 'nope.crt'), a.keyFile, Date.now()));
    expect(e.code).toBe('TESSERA_E_INVALID_CONFIG');
    expect(e.field).toBe('--tls-cert');
    expect(e.message).toContain(join(a.dir, 'nope.crt'));
    expect(e.message).toContain('no such file');
  });

  it('refuses a file that holds no certificate', () => {
    const junk = join(a.dir, 'junk.crt');
    writeFileSync(junk, 'hello\n');
    expect(failure(readServerTls(junk, a.keyFile, Date.now())).message).toMatch(/holds no PEM certificate/);
  });

  it("refuses a key that is not the certificate's, saying to give the matching one", () => {
    const e = failure(readServerTls(a.certFile, b.keyFile, Date.now()));
    expect(e.field).toBe('--tls-key');
    expect(e.message).toMatch(/does not match the certificate/);
    expect(e.message).toContain(b.keyFile);
  });

  it('refuses a key file that is not a key', () => {
    const e = failure(readServerTls(a.certFile, a.caFile, Date.now()));
    expect(e.field).toBe('--tls-key');
    expect(e.message).toMatch(/not a readable PEM private key/);
  });

  it('refuses an expired certificate and says to renew it', () => {
    const later = Date.now() + 2 * 365 * 86_400_000;
    const e = failure(readServerTls(a.certFile, a.keyFile, later));
    expect(e.message).toMatch(/expired on .*renew it/);
  });

  it('checkValidity says nothing of a certificate in its validity window', () => {
    expect(checkValidity(new X509Certificate(readFileSync(a.certFile)), Date.now())).toBeNull();
  });
});

describe('readCaFile', () => {
  it('loads a CA file, keeping where it came from for messages', () => {
    expect(value(readCaFile(a.caFile, '--ca'))).toMatchObject({ path: a.caFile, from: '--ca' });
  });

  it('refuses a missing or non-PEM file, naming the setting that named it', () => {
    const missing = failure(readCaFile(join(a.dir, 'none.crt'), 'TESSERA_CA'));
    expect(missing.field).toBe('TESSERA_CA');
    expect(missing.message).toMatch(/cannot read it \(no such file\).*CA that signed/);
    expect(failure(readCaFile(a.keyFile, '--ca')).message).toMatch(/holds no PEM certificate/);
  });
});
