import { describe, expect, it } from 'vitest';
import { backoffMs, classifyPullError } from '../../../../agent/runtime/container/pull-error.ts';

// Captured from podman 4.3.1 on Debian 12 (closed port, registry:2 without the tag, http registry over https, DNS failure).
const REFUSED = `time="2026-12-07T12:48:27Z" level=warning msg="Failed, retrying in 1s ... (1/3). Error: ..."
Error: initializing source docker://127.0.0.1:1/x/y:1: pinging container registry 127.0.0.1:1: Get "https://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused`;
const UNKNOWN = `Trying to pull 127.0.0.1:45123/nope/img:1...
Error: initializing source docker://127.0.0.1:45123/nope/img:1: reading manifest 1 in 127.0.0.1:45123/nope/img: manifest unknown: manifest unknown`;
const HTTP = `Error: initializing source docker://127.0.0.1:45123/t/b:1: pinging container registry 127.0.0.1:45123: Get "https://127.0.0.1:45123/v2/": http: server gave HTTP response to HTTPS client`;
const DNS = `Error: initializing source docker://nonexistent.invalid/x:1: pinging container registry nonexistent.invalid: Get "https://nonexistent.invalid/v2/": dial tcp: lookup nonexistent.invalid on 10.255.255.53:53: no such host`;
// containers/image's wording for a registry that refuses the login (not captured here: no auth registry on this host).
const DENIED = `Error: initializing source docker://r.example/private/x:1: reading manifest 1 in r.example/private/x: unauthorized: authentication required`;
const DENIED2 = `Error: initializing source docker://docker.io/library/nope:1: reading manifest 1 in docker.io/library/nope: requested access to the resource is denied`;

describe('classifyPullError', () => {
  it('keeps the registry words, less podman preamble', () => {
    expect(classifyPullError(UNKNOWN)).toEqual({
      message: 'reading manifest 1 in 127.0.0.1:45123/nope/img: manifest unknown: manifest unknown',
      transient: false,
    });
    expect(classifyPullError(REFUSED).message).toBe(
      'pinging container registry 127.0.0.1:1: Get "https://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused',
    );
  });
  it('retries an unreachable registry, not a refusal, a missing image or a TLS mismatch', () => {
    expect(classifyPullError(REFUSED).transient).toBe(true);
    expect(classifyPullError(DNS).transient).toBe(true);
    expect(classifyPullError(UNKNOWN).transient).toBe(false);
    expect(classifyPullError(HTTP).transient).toBe(false);
    expect(classifyPullError(DENIED).transient).toBe(false);
    expect(classifyPullError(DENIED2).transient).toBe(false);
    expect(
      classifyPullError('Error: received unexpected HTTP status: 503 Service Unavailable').transient,
    ).toBe(true);
  });
  it('an unknown message is permanent, and an empty one still says something', () => {
    expect(classifyPullError('Error: something new').transient).toBe(false);
    expect(classifyPullError('').message).toBe('podman pull failed without a message');
  });
});

describe('backoffMs', () => {
  it('doubles from the base up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffMs(n, 1000, 10_000))).toEqual([
      1000, 2000, 4000, 8000, 10_000, 10_000,
    ]);
  });
});
