/**
 * Requests below what an HTTP client will send: odd bytes in the request line, broken framing,
 * duplicate or impossible headers. Each is written whole on its own connection, which is then
 * half-closed, so a server waiting for more of a short body sees the end rather than waiting forever.
 */
import { connect } from 'node:net';
import fc from 'fast-check';
import type { Outcome } from './send.ts';
import { nastyString } from './values.ts';

/** One raw request: the route it aims at (for the report) and its bytes. */
export interface RawInput {
  route: string;
  bytes: Buffer;
}

const target = fc.oneof(
  fc.constantFrom(
    '/api/v1/nodes',
    '/api/v1/workloads/\u0001',
    '/api/v1/nodes/\u00ff\u00fe',
    '/api/v1/../../etc/passwd',
    '//api/v1/nodes',
    'http://evil.example/api/v1/nodes',
    '*',
    '',
    '/api/v1/workloads?x=\u0000',
    '/%',
    '/api/v1/projects/%c0%ae%c0%ae',
  ),
  nastyString(30).map((s) => `/api/v1/projects/${s}`),
);

const version = fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'HTTP/1.1x', '');

const extraHeaders = fc.oneof(
  fc.constantFrom(
    '',
    'Content-Length: -1\r\n',
    'Content-Length: 5\r\nContent-Length: 6\r\n',
    'Content-Length: 99999999999999999999\r\n',
    'Transfer-Encoding: chunked\r\n',
    'Transfer-Encoding: chunked\r\nContent-Length: 3\r\n',
    'X-Folded: a\r\n b\r\n',
    'NoColon\r\n',
    `X-Big: ${'h'.repeat(20_000)}\r\n`,
    'Content-Type: application/json\r\n',
    'Expect: 100-continue\r\n',
    'Upgrade: websocket\r\nConnection: Upgrade\r\n',
  ),
  nastyString(20).map((s) => `X-Fuzz: ${s}\r\n`),
);

const body = fc.constantFrom(
  '',
  '{}',
  '{"name":"x"}',
  'zz\r\n',
  '3\r\nabc\r\n0\r\n\r\n',
  'ffffffffffffffff\r\n',
  '\u0000\u0000',
);

/** Raw requests with the admin `token` (so a well-formed one gets past auth). */
export function rawInputs(token: string): fc.Arbitrary<RawInput> {
  return fc
    .record({
      method: fc.constantFrom('GET', 'POST', 'PATCH', 'DELETE', 'BREW', 'G ET', ''),
      target,
      version,
      extra: extraHeaders,
      body,
    })
    .map((r) => ({
      route: 'RAW',
      bytes: Buffer.from(
        `${r.method} ${r.target} ${r.version}\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n${r.extra}\r\n${r.body}`,
        'latin1',
      ),
    }));
}

/** Writes `input` to `host:port`, half-closes, and reads the status line of the answer. */
export function sendRaw(host: string, port: number, input: RawInput, deadlineMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    let got = '';
    let done = false;
    const socket = connect({ host, port });
    const finish = (o: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ kind: 'hang' }), deadlineMs);
    socket.on('connect', () => socket.end(input.bytes));
    socket.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(got);
      if (m !== null && got.includes('\r\n\r\n'))
        finish({ kind: 'status', status: Number(m[1]), body: got.slice(0, 2048) });
    });
    socket.on('end', () => {
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(got);
      finish(
        m === null
          ? { kind: 'reset', error: 'closed without an answer' }
          : { kind: 'status', status: Number(m[1]), body: got.slice(0, 2048) },
      );
    });
    socket.on('error', (e) => finish({ kind: 'reset', error: e.message }));
  });
}
