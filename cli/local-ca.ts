/**
 * The local CA of `tessera up`: a CA and an allocator certificate in `DATA/tls/`, made on the first
 * start and reused after, remade when missing, broken, close to expiry or short of a name. Node can
 * read certificates (`crypto.X509Certificate`) but not sign them, so node-forge signs them; the keys
 * come from Node's own `crypto`. Key files are written 0600 in a 0700 folder.
 *
 * Files: `ca.crt` (what clients and agents trust: `--ca`, TESSERA_CA), `ca.key`, `allocator.crt`
 * (SANs: localhost, the host name, 127.0.0.1, ::1) and `allocator.key`.
 */
import { createPrivateKey, generateKeyPair, randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { writeFileAtomicSync } from '../common/atomic-file.mjs';
import { err, ok, type Result, tesseraError } from '../common/errors.ts';

/** The files `ensureLocalTls` keeps, and what it did this time. */
export interface LocalTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** What was made anew this time (false: reused from an earlier start). */
  made: { ca: boolean; cert: boolean };
}

/** The names the allocator's certificate must cover. */
export interface CertNames {
  dns: string[];
  ips: string[];
}

/** A certificate and its private key, both PEM. */
export interface PemPair {
  certPem: string;
  keyPem: string;
}

const DAY_MS = 86_400_000;
/** The CA outlives many server certificates; rotating it means every agent's --ca file changes. */
export const CA_LIFETIME_MS = 5 * 365 * DAY_MS;
/** A year: a stolen key is useful for a bounded time, and `up` renews it by itself. */
export const CERT_LIFETIME_MS = 365 * DAY_MS;
/** Renewed this long before expiry, so a long-running `up` never serves an expired certificate. */
export const RENEW_BEFORE_MS = 30 * DAY_MS;
/** Back-dated a little, for a client whose clock is slightly behind. */
const BACKDATE_MS = 5 * 60_000;

const generate = promisify(generateKeyPair);

/** A fresh RSA key pair as PEM (2048 bits: what node-forge signs with, and quick to make). */
async function rsaKeyPair(): Promise<{ publicKey: string; privateKey: string }> {
  return generate('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

/** A random positive serial number (RFC 5280: unique per CA, at most 20 bytes). */
function serial(): string {
  return `01${randomBytes(15).toString('hex')}`;
}

/** Makes a self-signed CA valid from `nowMs` for CA_LIFETIME_MS. */
export async function makeCa(nowMs: number, commonName = 'Tessera local CA'): Promise<PemPair> {
  const keys = await rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKey);
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(nowMs - BACKDATE_MS);
  cert.validity.notAfter = new Date(nowMs + CA_LIFETIME_MS);
  const name = [{ name: 'commonName', value: commonName }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    // pathLen 0: this CA signs server certificates only, never another CA.
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.privateKey), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privateKey };
}

/** Makes a server certificate for `names`, signed by `ca`, valid from `nowMs` for CERT_LIFETIME_MS. */
export async function makeServerCert(ca: PemPair, names: CertNames, nowMs: number): Promise<PemPair> {
  const keys = await rsaKeyPair();
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKey);
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(nowMs - BACKDATE_MS);
  cert.validity.notAfter = new Date(Math.min(nowMs + CERT_LIFETIME_MS, caCert.validity.notAfter.getTime()));
  cert.setSubject([{ name: 'commonName', value: names.dns[0] ?? names.ips[0] ?? 'tessera allocator' }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        ...names.dns.map((value) => ({ type: 2, value })),
        ...names.ips.map((ip) => ({ type: 7, ip })),
      ],
    },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privateKey };
}

/** Why the pair in `pem` cannot be reused at `nowMs`, or null when it can. */
export function reuseProblem(
  pem: PemPair,
  nowMs: number,
  check: { issuer?: string; names?: CertNames },
): string | null {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem.certPem);
  } catch {
    return 'the certificate does not parse';
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(pem.keyPem))) return 'the key does not match the certificate';
  } catch {
    return 'the key does not parse';
  }
  if (Date.parse(cert.validTo) - RENEW_BEFORE_MS < nowMs)
    return 'the certificate expires soon or has expired';
  if (Date.parse(cert.validFrom) > nowMs) return 'the certificate is not valid yet';
  if (check.issuer !== undefined) {
    const issuer = new X509Certificate(check.issuer);
    if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) return 'the CA did not sign it';
  }
  for (const name of check.names?.dns ?? [])
    if (cert.checkHost(name) === undefined) return `it lacks ${name}`;
  for (const ip of check.names?.ips ?? []) if (cert.checkIP(ip) === undefined) return `it lacks ${ip}`;
  return null;
}

/** The pair in `certFile` / `keyFile`, or null when either is missing. */
function readPair(certFile: string, keyFile: string): PemPair | null {
  if (!existsSync(certFile) || !existsSync(keyFile)) return null;
  return { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
}

/** Writes a pair: the certificate readable by all (it is public), the key by its owner only. */
function writePair(pair: PemPair, certFile: string, keyFile: string): void {
  // Through a temporary file, so a crash never leaves half a key.
  writeFileAtomicSync(keyFile, pair.keyPem, { mode: 0o600 });
  writeFileAtomicSync(certFile, pair.certPem, { mode: 0o644 });
}

/**
 * The CA and the allocator certificate for `names` in `dir` (created 0700): reused when still good
 * for RENEW_BEFORE_MS, else made anew (a new CA always brings a new certificate).
 */
export async function ensureLocalTls(
  dir: string,
  names: CertNames,
  nowMs: number,
): Promise<Result<LocalTls>> {
  const caFile = join(dir, 'ca.crt');
  const caKeyFile = join(dir, 'ca.key');
  const certFile = join(dir, 'allocator.crt');
  const keyFile = join(dir, 'allocator.key');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    let ca = readPair(caFile, caKeyFile);
    const caMade = ca === null || reuseProblem(ca, nowMs, {}) !== null;
    if (ca === null || caMade) {
      ca = await makeCa(nowMs);
      writePair(ca, caFile, caKeyFile);
    }
    const cert = readPair(certFile, keyFile);
    const certMade =
      caMade || cert === null || reuseProblem(cert, nowMs, { issuer: ca.certPem, names }) !== null;
    if (certMade) writePair(await makeServerCert(ca, names, nowMs), certFile, keyFile);
    return ok({ caFile, certFile, keyFile, made: { ca: caMade, cert: certMade } });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return err(
      tesseraError(
        'TESSERA_E_INVALID_CONFIG',
        `cannot make the local CA in ${dir}: ${why}; fix its permissions or remove it`,
        {
          field: '--data',
          context: { path: dir },
        },
      ),
    );
  }
}
