// @ts-check
/**
 * The one way the console talks to the allocator: `/api/v1` with the bearer token kept in
 * sessionStorage (gone when the tab closes, never written to disk by the console), errors turned
 * into `ApiError` with the API's own code, message and field.
 */

const TOKEN_KEY = 'tessera.token';
const PREFIX = '/api/v1';

/** A failed API call: the HTTP status and the API's `{error: {code, message, field}}`. */
export class ApiError extends Error {
  /**
   * @param {number} status 0 when the allocator did not answer at all
   * @param {string} code
   * @param {string} message
   * @param {string | undefined} field
   */
  constructor(status, code, message, field) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** @type {(message: string) => void} */
let unauthorized = () => {};

/**
 * Sets what happens when any call answers 401 (the app sends the user to the login page).
 * @param {(message: string) => void} handler
 */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

/** The stored token, or null when logged out. */
export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Stores the token for this tab. @param {string} token */
export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

/** Forgets the token. */
export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * @param {unknown} body
 * @returns {{ code: string, message: string, field: string | undefined } | null}
 */
function errorOf(body) {
  if (typeof body !== 'object' || body === null || !('error' in body)) return null;
  const e = body.error;
  if (typeof e !== 'object' || e === null) return null;
  const code = 'code' in e && typeof e.code === 'string' ? e.code : 'UNKNOWN';
  const message = 'message' in e && typeof e.message === 'string' ? e.message : JSON.stringify(e);
  const field = 'field' in e && typeof e.field === 'string' ? e.field : undefined;
  return { code, message, field };
}

/**
 * @typedef {object} RequestOptions
 * @property {unknown} [body] sent as JSON
 * @property {AbortSignal} [signal]
 * @property {string} [token] instead of the stored one (the login page checks a token it has not stored)
 * @property {boolean} [keep401] answer a 401 as an ApiError rather than logging the user out
 */

/**
 * Calls `/api/v1{path}` and resolves its JSON body (null for an empty one), or throws ApiError.
 * @param {string} method
 * @param {string} path
 * @param {RequestOptions} [options]
 * @returns {Promise<unknown>}
 */
export async function request(method, path, options = {}) {
  return parsed((await send(method, path, options, 'application/json')).text);
}

/** A JSON body, null for an empty one, the text itself when it is not JSON. @param {string} text */
function parsed(text) {
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The response header that names the next page of a list (allocator/api/paging.ts). */
const CONTINUE_HEADER = 'tessera-continue';

/**
 * GETs every row of a paged list route (`/workloads`, `/workloads/:id/events`): it follows the
 * `Tessera-Continue` header page by page until the allocator sends none.
 * @param {string} path
 * @param {RequestOptions} [options]
 * @returns {Promise<unknown[]>}
 */
export async function requestList(path, options = {}) {
  /** @type {unknown[]} */
  const rows = [];
  const sep = path.includes('?') ? '&' : '?';
  /** @type {string | null} */
  let token = null;
  do {
    const page = await send(
      'GET',
      token === null ? path : `${path}${sep}continue=${encodeURIComponent(token)}`,
      options,
      'application/json',
    );
    const body = parsed(page.text);
    if (Array.isArray(body)) rows.push(...body);
    token = page.headers.get(CONTINUE_HEADER);
  } while (token !== null);
  return rows;
}

/**
 * GETs `/api/v1{path}` and resolves its body as text (a pod's log), or throws ApiError as `request`
 * does: errors are JSON whatever the route answers when it works.
 * @param {string} path
 * @param {RequestOptions} [options]
 * @returns {Promise<string>}
 */
export async function requestText(path, options = {}) {
  return (await send('GET', path, options, 'text/plain, application/json')).text;
}

/**
 * The one fetch: bearer token, no cache, the body as text with the response's headers; a non-2xx
 * answer becomes ApiError and a 401 logs the user out (unless `keep401`).
 * @param {string} method
 * @param {string} path
 * @param {RequestOptions} options
 * @param {string} accept
 * @returns {Promise<{ text: string, headers: Headers }>}
 */
async function send(method, path, options, accept) {
  /** @type {Record<string, string>} */
  const headers = { accept };
  const token = options.token ?? getToken();
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  /** @type {Response} */
  let res;
  /** @type {string} */
  let text;
  try {
    res = await fetch(PREFIX + path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
      cache: 'no-store',
    });
    // Inside the try: a chunked body (logs) can fail after the headers came.
    text = await res.text();
  } catch (e) {
    if (options.signal?.aborted) throw e;
    throw new ApiError(0, 'NETWORK', `the allocator did not answer (${String(e)})`, undefined);
  }
  if (res.ok) return { text, headers: res.headers };
  /** @type {unknown} */
  let body = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (a proxy's page): its text is the message.
  }
  const e = errorOf(body) ?? {
    code: `HTTP_${res.status}`,
    message: typeof body === 'string' && body !== '' ? body : res.statusText,
    field: undefined,
  };
  const error = new ApiError(res.status, e.code, e.message, e.field);
  if (res.status === 401 && options.keep401 !== true) unauthorized(e.message);
  throw error;
}

/** True when `e` is the abort of a request the page no longer wants. @param {unknown} e */
export function isAbort(e) {
  return e instanceof DOMException && e.name === 'AbortError';
}
