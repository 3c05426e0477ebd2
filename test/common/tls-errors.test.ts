import { describe, expect, it } from 'vitest';
import { errorCode, explainTlsFailure } from '../../common/tls-errors.ts';

const URL = 'https://alloc.example:7400';

describe('explainTlsFailure', () => {
  it('says to pass --ca when no CA was given and the certificate is not trusted', () => {
    for (const code of [
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'SELF_SIGNED_CERT_IN_CHAIN',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
    ])
      expect(explainTlsFailure(code, URL, undefined)).toMatch(/does not trust .*--ca FILE or set TESSERA_CA/);
  });

  it('names the CA file and its setting when that CA did not sign the certificate', () => {
    const m = explainTlsFailure('UNABLE_TO_VERIFY_LEAF_SIGNATURE', URL, { path: '/x/ca.crt', from: '--ca' });
    expect(m).toContain('/x/ca.crt');
    expect(m).toContain('from --ca');
    expect(m).toMatch(/did not sign/);
  });

  it('explains an expired certificate, a wrong host name and a server without TLS', () => {
    expect(explainTlsFailure('CERT_HAS_EXPIRED', URL, undefined)).toMatch(/expired.*renew/);
    expect(explainTlsFailure('ERR_TLS_CERT_ALTNAME_INVALID', URL, undefined)).toMatch(
      /does not name alloc\.example/,
    );
    expect(explainTlsFailure('EPROTO', URL, undefined)).toMatch(/does not speak TLS.*http:\/\//);
    expect(explainTlsFailure('ECONNRESET', 'http://alloc:7400', undefined)).toMatch(/https:\/\//);
  });

  it('leaves other failures to the caller', () => {
    expect(explainTlsFailure('ECONNREFUSED', URL, undefined)).toBeUndefined();
    expect(explainTlsFailure(undefined, URL, undefined)).toBeUndefined();
  });

  it("finds the code on an error or on a fetch error's cause", () => {
    const socket = Object.assign(new Error('unable to verify'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    expect(errorCode(socket)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(errorCode(new TypeError('fetch failed', { cause: socket }))).toBe(
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    );
    expect(errorCode('nope')).toBeUndefined();
  });
});
