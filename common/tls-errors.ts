/**
 * A failed TLS handshake explained for a user. Node reports it as an OpenSSL code on the error (or
 * on a fetch error's `cause`); the CLI and the agent turn that code into what is wrong with the
 * allocator's certificate and how to fix it (`--ca`, TESSERA_CA), never a bare
 * `UNABLE_TO_VERIFY_LEAF_SIGNATURE`.
 */

/** The CA a client was told to trust, for messages. */
export interface CaInUse {
  path: string;
  /** The setting that named it: `--ca`, `TESSERA_CA`, a config file's `ca`. */
  from: string;
}

/** Codes for "this certificate does not chain to a CA we trust". */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);

/** Codes for "a TLS client met a server that does not speak TLS". */
const NOT_TLS = new Set(['EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG']);

/** The error code Node put on `e` or on its `cause` (fetch wraps the socket's error). */
export function errorCode(e: unknown): string | undefined {
  for (const x of [e, e instanceof Error ? e.cause : undefined]) {
    if (typeof x === 'object' && x !== null && 'code' in x && typeof x.code === 'string') return x.code;
  }
  return undefined;
}

/**
 * What a TLS failure with `code` means for a client of `url`, ending in how to fix it; undefined
 * when `code` is not a TLS failure. `ca` is the CA the client trusted, if one was given.
 */
export function explainTlsFailure(
  code: string | undefined,
  url: string,
  ca: CaInUse | undefined,
): string | undefined {
  if (code === undefined) return undefined;
  if (UNTRUSTED.has(code)) {
    return ca === undefined
      ? `presented a certificate this client does not trust (${code}): pass --ca FILE or set TESSERA_CA to the CA that signed it (tessera up: DATA/tls/ca.crt)`
      : `presented a certificate that the CA in ${ca.path} (from ${ca.from}) did not sign (${code}): give the CA that signed the allocator's certificate`;
  }
  if (code === 'CERT_HAS_EXPIRED')
    return `presented an expired certificate (${code}): renew the allocator's certificate (tessera up makes a new one on its next start)`;
  if (code === 'CERT_NOT_YET_VALID')
    return `presented a certificate that is not valid yet (${code}): check the clocks of both machines`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const host = safeHost(url);
    return `presented a certificate that does not name ${host} (${code}): connect by a name or address the certificate lists, or reissue it with ${host} among its subject alternative names`;
  }
  if (NOT_TLS.has(code) && url.startsWith('https:'))
    return `does not speak TLS there (${code}): use an http:// URL, or start the allocator with --tls-cert and --tls-key`;
  if ((code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') && url.startsWith('http:'))
    return `closed the connection (${code}); if it serves HTTPS (started with --tls-cert), use an https:// URL`;
  return undefined;
}

function safeHost(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return url;
  }
}
