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
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  const token = options.token ?? getToken();
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  /** @type {Response} */
  let res;
  try {
    res = await fetch(PREFIX + path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
      cache: 'no-store',
    });
  } catch (e) {
    if (options.signal?.aborted) throw e;
    throw new ApiError(0, 'NETWORK', `the allocator did not answer (${String(e)})`, undefined);
  }
  const text = await res.text();
  /** @type {unknown} */
  let body = null;
  if (text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (res.ok) return body;
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
