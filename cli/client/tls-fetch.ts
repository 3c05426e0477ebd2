/**
 * A `fetch` that trusts one CA. Node 20's global fetch has no per-call CA (its undici Agent is
 * internal, and NODE_EXTRA_CA_CERTS is read only at start-up), so a client given `--ca` sends its
 * requests through `node:https` with `ca` set, and gets back a standard `Response`. Certificate
 * checks stay Node's own: `rejectUnauthorized` is never turned off. Failures reject as the global
 * fetch's do, a `TypeError('fetch failed')` whose `cause` is the socket's error with its code.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';

/** Statuses whose answer has no body; `new Response` refuses one for them. */
const NULL_BODY = new Set([101, 204, 205, 304]);

/** A fetch for the requests the CLI makes (method, headers, string body, signal) trusting `caPem`. */
export function fetchTrusting(caPem: string): typeof fetch {
  return (input, init) =>
    new Promise<Response>((resolvePromise, reject) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const headers = new Headers(init?.headers);
      const body = typeof init?.body === 'string' ? init.body : undefined;
      if (init?.body !== undefined && init.body !== null && body === undefined) {
        reject(new TypeError('fetchTrusting sends string bodies only'));
        return;
      }
      const options = {
        method: init?.method ?? 'GET',
        headers: Object.fromEntries(headers.entries()),
        ...(init?.signal === undefined || init.signal === null ? {} : { signal: init.signal }),
      };
      const onResponse = (res: IncomingMessage): void => {
        const status = res.statusCode ?? 500;
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value === undefined) continue;
          for (const v of Array.isArray(value) ? value : [value]) responseHeaders.append(name, v);
        }
        const stream = NULL_BODY.has(status)
          ? null
          : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
        if (stream === null) res.resume();
        resolvePromise(
          new Response(stream, { status, statusText: res.statusMessage ?? '', headers: responseHeaders }),
        );
      };
      const req =
        url.protocol === 'https:'
          ? httpsRequest(url, { ...options, ca: caPem }, onResponse)
          : httpRequest(url, options, onResponse);
      req.on('error', (e) => {
        // As the global fetch: an abort rejects with the signal's reason (a TimeoutError for a timeout).
        if (init?.signal?.aborted === true) reject(init.signal.reason);
        else reject(new TypeError('fetch failed', { cause: e }));
      });
      req.end(body);
    });
}
