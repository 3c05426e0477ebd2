/**
 * The PEM files TLS needs, read and checked before anything listens or dials: the allocator's
 * certificate and key (`--tls-cert`, `--tls-key`) and the CA a client trusts (`--ca`). Node's own
 * `crypto.X509Certificate` parses them; a file that would only fail later, inside a handshake, with
 * an OpenSSL code, is refused here with what is wrong and how to fix it.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { err, ok, type Result, type TesseraError, tesseraError } from './errors.ts';

/** A certificate and its key as `https.createServer` takes them. */
export interface ServerTls {
  /** PEM: the server certificate, then any intermediates. */
  cert: string;
  /** PEM private key of the first certificate. */
  key: string;
}

/** A CA file a client trusts, read. */
export interface TrustedCa {
  /** PEM: one or more CA certificates. */
  pem: string;
  /** The file it came from, for messages. */
  path: string;
  /** The setting that named it (`--ca`, `TESSERA_CA`, a config file's `ca`), for messages. */
  from: string;
}

const CA_WHAT = "the PEM file of the CA that signed the allocator's certificate";

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Reads a UTF-8 file, or says which setting named a file that cannot be read. */
function readPem(path: string, label: string, what: string): Result<string> {
  try {
    return ok(readFileSync(path, 'utf8'));
  } catch (e) {
    const code = e instanceof Error && 'code' in e ? String(e.code) : '';
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied (the process cannot read it)'
          : e instanceof Error
            ? e.message
            : String(e);
    return err(
      tesseraError('TESSERA_E_INVALID_CONFIG', `${label} ${path}: cannot read it (${why}); give ${what}`, {
        field: label,
        context: { path },
      }),
    );
  }
}

/** The certificates in a PEM text, each parsed; an error naming the file when none is there or one is broken. */
function parseCerts(pem: string, path: string, label: string, what: string): Result<X509Certificate[]> {
  const blocks = pem.match(PEM_CERT) ?? [];
  const bad = (why: string) =>
    err(
      tesseraError('TESSERA_E_INVALID_CONFIG', `${label} ${path}: ${why}; give ${what}`, {
        field: label,
        context: { path },
      }),
    );
  if (blocks.length === 0) return bad('holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  const certs: X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    try {
      certs.push(new X509Certificate(block));
    } catch (e) {
      return bad(`certificate ${i + 1} cannot be parsed (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  return ok(certs);
}

/**
 * Reads the allocator's certificate and key and checks they can serve: the certificate parses, is
 * valid at `nowMs`, and the key is the one it was issued for.
 */
export function readServerTls(certPath: string, keyPath: string, nowMs: number): Result<ServerTls> {
  const certWhat = 'a PEM certificate file (the server certificate first, then any intermediates)';
  const keyWhat = 'the PEM private key the certificate in --tls-cert was issued for';
  const cert = readPem(certPath, '--tls-cert', certWhat);
  if (!cert.ok) return cert;
  const key = readPem(keyPath, '--tls-key', keyWhat);
  if (!key.ok) return key;
  const certs = parseCerts(cert.value, certPath, '--tls-cert', certWhat);
  if (!certs.ok) return certs;
  const [leaf] = certs.value;
  if (leaf === undefined) return err(tesseraError('TESSERA_E_INTERNAL', 'no certificate parsed'));
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key.value);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return err(
      tesseraError(
        'TESSERA_E_INVALID_CONFIG',
        `--tls-key ${keyPath}: not a readable PEM private key (${why}); give ${keyWhat} (unencrypted)`,
        { field: '--tls-key', context: { path: keyPath } },
      ),
    );
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    return err(
      tesseraError(
        'TESSERA_E_INVALID_CONFIG',
        `--tls-key ${keyPath} does not match the certificate in --tls-cert ${certPath} (${leaf.subject.replace(/\n/g, ', ')}); give the key that certificate was issued for, or the certificate of this key`,
        { field: '--tls-key', context: { cert: certPath, key: keyPath } },
      ),
    );
  }
  const validity = checkValidity(leaf, nowMs);
  if (validity !== null) {
    return err(
      tesseraError(
        'TESSERA_E_INVALID_CONFIG',
        `--tls-cert ${certPath}: ${validity}; renew it (tessera up makes a new one by itself)`,
        { field: '--tls-cert', context: { path: certPath } },
      ),
    );
  }
  return ok({ cert: cert.value, key: key.value });
}

/** Why `cert` cannot be used at `nowMs` (expired, not yet valid), or null. */
export function checkValidity(cert: X509Certificate, nowMs: number): string | null {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  if (nowMs > to) return `the certificate expired on ${new Date(to).toISOString()}`;
  if (nowMs < from) return `the certificate is not valid before ${new Date(from).toISOString()}`;
  return null;
}

/**
 * Reads a CA file a client trusts (`from` names the setting, e.g. `--ca`): one or more PEM
 * certificates. Whether it signed the allocator's certificate shows only in the handshake
 * (tls-errors.ts explains that failure).
 */
export function readCaFile(path: string, from: string): Result<TrustedCa> {
  const pem = readPem(path, from, CA_WHAT);
  if (!pem.ok) return pem;
  return checkCaPem(pem.value, path, from);
}

/** Checks the text of a CA file read elsewhere: it must hold at least one PEM certificate. */
export function checkCaPem(text: string, path: string, from: string): Result<TrustedCa> {
  const certs = parseCerts(text, path, from, CA_WHAT);
  if (!certs.ok) return certs;
  return ok({ pem: text, path, from });
}

/** The error for a CA file that cannot be read at all (`why`: the reason). */
export function unreadableCa(path: string, from: string, why: string): TesseraError {
  return tesseraError(
    'TESSERA_E_INVALID_CONFIG',
    `${from} ${path}: cannot read it (${why}); give ${CA_WHAT}`,
    {
      field: from,
      context: { path },
    },
  );
}
