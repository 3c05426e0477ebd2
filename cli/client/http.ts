/**
 * The client commands' one way to talk to the allocator: JSON over Node's global `fetch` (or, with a
 * CA to trust, tls-fetch.ts) with a bearer token. Every failure leaves as a `CliError` (exit 1): the
 * API's own error body keeps its code, message and field, a refused or timed-out connection or an
 * untrusted certificate becomes TESSERA_E_UNAVAILABLE naming the URL and the fix, so a command never
 * prints a raw `fetch failed`.
 */

import { type ErrorCode, isErrorCode, type TesseraError, tesseraError } from '../../common/errors.ts';
import { type DefaultsOf, type WithDefaults, withDefaults } from '../../common/options.ts';
import { CONTINUE_HEADER } from '../../common/paging.ts';
import { errorCode, explainTlsFailure } from '../../common/tls-errors.ts';
import { CliError, EXIT_FAILURE } from '../errors.ts';
import type { ClientConfig } from './config.ts';
import { fetchTrusting } from './tls-fetch.ts';

/** The methods the API uses. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A connection to one allocator. */
export interface ApiClient {
  /** The allocator's base URL, for messages. */
  readonly url: string;
  /**
   * Sends one request under `/api/v1` and returns the parsed JSON answer (undefined when empty).
   * `T` names the view the route answers (allocator/api/views.ts); the allocator is ours and
   * versioned with this CLI, so the body is trusted to have that shape rather than re-validated.
   */
  request<T = unknown>(method: HttpMethod, path: string, body?: unknown): Promise<T>;
  /**
   * GETs a paged list route (allocator/api/paging.ts) and returns every row: it follows the
   * `Tessera-Continue` header page by page until the allocator sends none.
   */
  list<T = unknown>(path: string): Promise<T[]>;
}

/** Options for `createClient`. */
export interface ClientOptions {
  /** Give up on an allocator that does not answer within this long. Default 30 s. */
  timeoutMs?: number;
  /** The fetch to use; default the global one, or one trusting `config.ca` (tests may pass a fake). */
  fetch?: typeof fetch;
}

/** The defaults of `ClientOptions` a table can hold (the fetch depends on the config). */
const CLIENT_DEFAULTS = { timeoutMs: 30_000 } as const satisfies DefaultsOf<ClientOptions>;

/** `ClientOptions` complete for one config. */
export type ResolvedClientOptions = WithDefaults<ClientOptions, typeof CLIENT_DEFAULTS> & {
  fetch: typeof fetch;
};

/** Fills in the defaults of `options` for `config`; the default fetch is computed here, by `fetchFor(config)`. */
export function resolveClientOptions(config: ClientConfig, options: ClientOptions): ResolvedClientOptions {
  return { ...withDefaults(options, CLIENT_DEFAULTS), fetch: options.fetch ?? fetchFor(config) };
}

/** The fetch for `config`: the global one, or one that trusts the CA it names. */
export function fetchFor(config: ClientConfig): typeof fetch {
  return config.ca === undefined ? fetch : fetchTrusting(config.ca.pem);
}

/**
 * The allocators a URL setting names: one, or several separated by commas (allocators sharing one
 * database: any of them answers, writes reach the leader through it).
 */
export function allocatorUrls(url: string): string[] {
  const urls = url
    .split(',')
    .map((u) => u.trim().replace(/\/+$/, ''))
    .filter((u) => u !== '');
  return urls.length > 0 ? urls : [url];
}

/** Connection errors after which no request reached the allocator, so the next one may be asked. */
const NEVER_REACHED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Builds an `ApiClient` for the allocator `config` resolved. */
export function createClient(config: ClientConfig, options: ClientOptions = {}): ApiClient {
  const { timeoutMs, fetch: doFetch } = resolveClientOptions(config, options);
  const urls = allocatorUrls(config.url);
  // The allocator that answered last is asked first next time.
  let first = 0;
  /** One request: the parsed JSON answer and the response's headers, or a CliError. */
  const send = async (
    method: HttpMethod,
    path: string,
    body?: unknown,
  ): Promise<{ json: unknown; headers: Headers }> => {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (config.token !== undefined) headers.authorization = `Bearer ${config.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response | null = null;
    let target = '';
    for (let i = 0; res === null; i++) {
      const at = (first + i) % urls.length;
      const base = urls[at] ?? config.url;
      target = `${base}/api/v1${path}`;
      try {
        res = await doFetch(target, {
          method,
          headers,
          body: body === undefined ? null : JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
        first = at;
      } catch (e) {
        const next = i + 1 < urls.length && NEVER_REACHED.has(errorCode(e) ?? '');
        if (!next) throw new CliError(unreachable({ ...config, url: base }, e, timeoutMs), EXIT_FAILURE);
      }
    }
    const text = await res.text();
    const json = parseBody(text);
    if (!res.ok) throw new CliError(apiError(res.status, json, text, method, target), EXIT_FAILURE);
    return { json, headers: res.headers };
  };
  return {
    url: config.url,
    async request<T>(method: HttpMethod, path: string, body?: unknown): Promise<T> {
      return (await send(method, path, body)).json as T;
    },
    async list<T>(path: string): Promise<T[]> {
      const rows: T[] = [];
      const sep = path.includes('?') ? '&' : '?';
      for (let token: string | null = null; ; ) {
        const page = await send(
          'GET',
          token === null ? path : `${path}${sep}continue=${encodeURIComponent(token)}`,
        );
        if (Array.isArray(page.json)) rows.push(...(page.json as T[]));
        token = page.headers.get(CONTINUE_HEADER);
        if (token === null) return rows;
      }
    },
  };
}

function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Why a request never got an answer: refused, unknown host, timeout, a certificate not trusted, each
 * naming the URL tried.
 */
export function unreachable(config: ClientConfig, e: unknown, timeoutMs: number): TesseraError {
  const code = errorCode(e);
  const name = e instanceof Error ? e.name : '';
  const tls = explainTlsFailure(code, config.url, config.ca);
  const why =
    tls !== undefined
      ? tls
      : name === 'TimeoutError'
        ? `did not answer within ${timeoutMs / 1000}s`
        : code === 'ECONNREFUSED'
          ? 'refused the connection'
          : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
            ? 'has a host name that does not resolve'
            : `cannot be reached (${code ?? (e instanceof Error ? e.message : String(e))})`;
  // A URL found in a `tessera up` data dir most likely means that allocator has since stopped.
  const hint =
    tls === undefined && config.urlFrom.endsWith('allocator.json')
      ? `; the URL came from ${config.urlFrom}: is tessera up still running?`
      : ` (URL from ${config.urlFrom})`;
  return tesseraError('TESSERA_E_UNAVAILABLE', `allocator at ${config.url} ${why}${hint}`, {
    field: tls === undefined ? 'url' : 'ca',
    context: { url: config.url, ...(code === undefined ? {} : { code }) },
  });
}

/** Fallback codes for an answer without the API's error body (a proxy in front, say). */
const STATUS_CODES: Readonly<Record<number, ErrorCode>> = {
  400: 'TESSERA_E_INVALID_SPEC',
  401: 'TESSERA_E_UNAUTHENTICATED',
  403: 'TESSERA_E_FORBIDDEN',
  404: 'TESSERA_E_NOT_FOUND',
  409: 'TESSERA_E_CONFLICT',
  429: 'TESSERA_E_TOO_MANY_STREAMS',
  502: 'TESSERA_E_UNAVAILABLE',
  503: 'TESSERA_E_UNAVAILABLE',
  504: 'TESSERA_E_UNAVAILABLE',
};

/** The API's `{"error": {code, message, field}}` as a `TesseraError`, or a stand-in built from the status. */
export function apiError(
  status: number,
  json: unknown,
  text: string,
  method: string,
  target: string,
): TesseraError {
  const body = typeof json === 'object' && json !== null && 'error' in json ? json.error : undefined;
  if (typeof body === 'object' && body !== null && 'code' in body && 'message' in body) {
    const code = String(body.code);
    const message = String(body.message);
    const field = 'field' in body && typeof body.field === 'string' ? body.field : undefined;
    if (isErrorCode(code)) return tesseraError(code, message, { field });
    // A newer allocator may know codes this CLI does not: keep its code visible in the message.
    return tesseraError('TESSERA_E_INTERNAL', `${code}: ${message}`, { field });
  }
  const snippet = text.trim().slice(0, 200);
  return tesseraError(
    STATUS_CODES[status] ?? 'TESSERA_E_INTERNAL',
    `${method} ${target} answered HTTP ${status}${snippet === '' ? '' : `: ${snippet}`}`,
  );
}
