/**
 * `tessera up`'s local CA: the first start makes a CA and an allocator certificate for the local
 * names with 0600 keys in a 0700 folder; later starts reuse them; a certificate that is missing,
 * close to expiry or short of a name is remade, and a new CA brings a new certificate.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AGENT_NODE_FLAGS } from '../../agent/node-flags.ts';
import { agentLaunch, localCertNames } from '../../cli/commands/up.ts';
import { CERT_LIFETIME_MS, ensureLocalTls, RENEW_BEFORE_MS } from '../../cli/local-ca.ts';
import { value } from '../result.ts';

const root = mkdtempSync(join(tmpdir(), 'tessera-local-ca-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const names = localCertNames('gpu-box-1');
const read = (path: string) => readFileSync(path, 'utf8');
const mode = (path: string) => statSync(path).mode & 0o777;

describe('ensureLocalTls', () => {
  const dir = join(root, 'tls');
  const t0 = Date.now();

  it('makes a CA and a certificate for loopback and the host name, keys readable by the owner only', async () => {
    const made = value(await ensureLocalTls(dir, names, t0));
    expect(made.made).toEqual({ ca: true, cert: true });
    expect(mode(dir)).toBe(0o700);
    expect(mode(made.keyFile)).toBe(0o600);
    expect(mode(join(dir, 'ca.key'))).toBe(0o600);
    const ca = new X509Certificate(read(made.caFile));
    const cert = new X509Certificate(read(made.certFile));
    expect(ca.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(ca) && cert.verify(ca.publicKey)).toBe(true);
    for (const host of ['localhost', 'gpu-box-1']) expect(cert.checkHost(host), host).toBe(host);
    for (const ip of ['127.0.0.1', '::1']) expect(cert.checkIP(ip), ip).toBe(ip);
    expect(cert.checkHost('elsewhere.example')).toBeUndefined();
  });

  it('reuses both on the next start', async () => {
    const before = [read(join(dir, 'ca.crt')), read(join(dir, 'allocator.crt'))];
    const again = value(await ensureLocalTls(dir, names, t0 + 60_000));
    expect(again.made).toEqual({ ca: false, cert: false });
    expect([read(again.caFile), read(again.certFile)]).toEqual(before);
  });

  it('remakes a certificate close to expiry, or one that lacks a name, under the same CA', async () => {
    const ca = read(join(dir, 'ca.crt'));
    const late = t0 + CERT_LIFETIME_MS - RENEW_BEFORE_MS + 60_000;
    expect(value(await ensureLocalTls(dir, names, late)).made).toEqual({ ca: false, cert: true });
    const renamed = value(await ensureLocalTls(dir, localCertNames('other-box'), late));
    expect(renamed.made).toEqual({ ca: false, cert: true });
    expect(new X509Certificate(read(renamed.certFile)).checkHost('other-box')).toBe('other-box');
    expect(read(renamed.caFile)).toBe(ca);
  });

  it('remakes a missing certificate, and both when the CA is gone', async () => {
    unlinkSync(join(dir, 'allocator.key'));
    expect(value(await ensureLocalTls(dir, names, t0)).made).toEqual({ ca: false, cert: true });
    const oldCa = read(join(dir, 'ca.crt'));
    unlinkSync(join(dir, 'ca.crt'));
    const fresh = value(await ensureLocalTls(dir, names, t0));
    expect(fresh.made).toEqual({ ca: true, cert: true });
    expect(read(fresh.caFile)).not.toBe(oldCa);
    const cert = new X509Certificate(read(fresh.certFile));
    expect(cert.verify(new X509Certificate(read(fresh.caFile)).publicKey)).toBe(true);
  });
});

describe('tessera up agent children', () => {
  it('get the join token by environment, never on their command line', () => {
    const token = 'tj.0123abcd.very-secret-join-token';
    const launch = agentLaunch({
      bin: '/opt/tessera/bin/tessera.js',
      dataDir: '/d/agents/sim-1',
      url: 'https://127.0.0.1:7400',
      caFile: '/d/tls/ca.crt',
      joinToken: token,
      node: 'sim-1',
      gpu: 'sim',
      simGpus: '4xH100-80GB',
      pods: {
        podRoot: '/d/pods/sim-1',
        simStateDir: '/d/sim/sim-1',
        uidRange: '200000-200999',
        portRange: '40000-40099',
      },
      env: { PATH: '/usr/bin' },
    });
    expect(launch.args.join(' ')).not.toContain(token);
    expect(launch.args.join(' ')).not.toContain('very-secret');
    expect(launch.args).not.toContain('--token');
    expect(launch.env.TESSERA_TOKEN).toBe(token);
    expect(launch.env.PATH).toBe('/usr/bin');
    expect(launch.args).toEqual(
      expect.arrayContaining(['--ca', '/d/tls/ca.crt', '--allocator', 'https://127.0.0.1:7400']),
    );
    // Node's own flags (the agent's heap sizing) before the entry, the command after it.
    const entry = launch.args.indexOf('/opt/tessera/bin/tessera.js');
    expect(launch.args.slice(0, entry)).toEqual([...AGENT_NODE_FLAGS]);
    expect(launch.args[entry + 1]).toBe('agent');
    // Its pods are reached on this machine, from their own ports.
    expect(launch.args.join(' ')).toContain('--advertise-address 127.0.0.1 --port-range 40000-40099');
  });

  it('leaves an odd host name out of the certificate but keeps loopback', () => {
    expect(localCertNames('my_box')).toEqual({ dns: ['localhost'], ips: ['127.0.0.1', '::1'] });
    expect(localCertNames('gpu-1.lab').dns).toEqual(['localhost', 'gpu-1.lab']);
  });
});
