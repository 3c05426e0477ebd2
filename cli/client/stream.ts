/**
 * A streamed text answer of the allocator (`GET /workloads/{id}/logs`): each piece is handed on as
 * it arrives, so `tessera logs -f` prints while the pod writes. Errors leave as `CliError`s, as in
 * http.ts: the API's error body when the allocator refused before streaming.
 */
import { tesseraError } from '../../common/errors.ts';
import { type DefaultsOf, type WithDefaults, withDefaults } from '../../common/options.ts';
import { CliError, EXIT_FAILURE } from '../errors.ts';
import type { ClientConfig } from './config.ts';
import { allocatorUrls, apiError, fetchFor, unreachable } from './http.ts';

/** Options of `streamText`. */
export interface StreamOptions {
  /** Ends the stream early (Ctrl-C, a test); the promise then resolves. */
  signal?: AbortSignal;
  /** Give up when the allocator sends no headers this long. Default 30 s. */
  connectTimeoutMs?: number;
  /** Default the allocator's own (`fetchFor`: its CA, if any). */
  fetch?: typeof fetch;
}

/** The defaults of `StreamOptions` a table can hold (the fetch depends on the config; no `signal`: never ended early). */
const STREAM_DEFAULTS = { connectTimeoutMs: 30_000 } as const satisfies DefaultsOf<StreamOptions>;

/** `StreamOptions` complete for one config. */
export type ResolvedStreamOptions = WithDefaults<StreamOptions, typeof STREAM_DEFAULTS> & {
  fetch: typeof fetch;
};

/** Fills in the defaults of `options` for `config`; the default fetch is computed here, by `fetchFor(config)`. */
export function resolveStreamOptions(config: ClientConfig, options: StreamOptions): ResolvedStreamOptions {
  return { ...withDefaults(options, STREAM_DEFAULTS), fetch: options.fetch ?? fetchFor(config) };
}

/** GETs `path` under `/api/v1` and calls `onText` with each decoded piece until the answer ends. */
export async function streamText(
  config: ClientConfig,
  path: string,
  onText: (text: string) => void,
  given: StreamOptions = {},
): Promise<void> {
  const options = resolveStreamOptions(config, given);
  // A follow goes to the first allocator named; any of several forwards it to the leader.
  const target = `${allocatorUrls(config.url)[0] ?? config.url}/api/v1${path}`;
  const headers: Record<string, string> = { accept: 'text/plain, application/json' };
  if (config.token !== undefined) headers.authorization = `Bearer ${config.token}`;
  const abort = new AbortController();
  const stop = (): void => abort.abort();
  options.signal?.addEventListener('abort', stop, { once: true });
  const timer = setTimeout(stop, options.connectTimeoutMs);
  try {
    let res: Response;
    try {
      res = await options.fetch(target, { headers, signal: abort.signal });
    } catch (e) {
      if (options.signal?.aborted === true) return;
      throw new CliError(unreachable(config, e, options.connectTimeoutMs), EXIT_FAILURE);
    } finally {
      clearTimeout(timer);
    }
    if (!res.ok) {
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      throw new CliError(apiError(res.status, json, text, 'GET', target), EXIT_FAILURE);
    }
    if (res.body === null) return;
    const decoder = new TextDecoder();
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        onText(decoder.decode(value, { stream: true }));
      }
      onText(decoder.decode());
    } catch (e) {
      // Aborted by the caller: a normal end. Anything else cut the stream.
      if (options.signal?.aborted === true) return;
      const why = e instanceof Error ? e.message : String(e);
      throw new CliError(
        tesseraError('TESSERA_E_UNAVAILABLE', `the log stream broke off: ${why}`),
        EXIT_FAILURE,
      );
    }
  } finally {
    options.signal?.removeEventListener('abort', stop);
  }
}
