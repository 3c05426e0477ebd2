/**
 * Readiness from a pod's own output: the first line that starts with a prefix (default `READY`).
 * Pure and incremental: fed the stdout bytes in whatever pieces the log reader gets, it remembers
 * only the start of the current line, so memory stays at the prefix's length however long lines are.
 */
import type { ProbeSpec, ReadinessSpec } from './types.ts';

/** The runner's default readiness: a stdout line starting with `READY`, no delay. */
export const DEFAULT_READINESS: Readonly<Required<ReadinessSpec>> = {
  linePrefix: 'READY',
  delayMs: null,
  probe: null,
};

/** Feeds output bytes; answers true once a line has started with the prefix (and forever after). */
export interface LineMatcher {
  feed(chunk: Uint8Array): boolean;
  readonly matched: boolean;
}

const NEWLINE = 0x0a;

/**
 * A matcher for lines starting with `prefix`. A line counts as soon as its first bytes equal the
 * prefix, newline or not, so `process.stdout.write('READY')` without a newline is ready too.
 */
export function createLineMatcher(prefix: string): LineMatcher {
  const want = Buffer.from(prefix);
  // The start of the current line, up to the prefix's length.
  let head = Buffer.alloc(0);
  let matched = false;
  return {
    get matched() {
      return matched;
    },
    feed(chunk) {
      if (matched) return true;
      const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      let pos = 0;
      while (pos < bytes.length) {
        const nl = bytes.indexOf(NEWLINE, pos);
        const end = nl === -1 ? bytes.length : nl;
        if (head.length < want.length) {
          const take = Math.min(end - pos, want.length - head.length);
          head = Buffer.concat([head, bytes.subarray(pos, pos + take)]);
          if (head.length === want.length && head.equals(want)) {
            matched = true;
            return true;
          }
        }
        if (nl === -1) return false;
        head = Buffer.alloc(0);
        pos = nl + 1;
      }
      return false;
    },
  };
}

/**
 * The readiness a pod gets: its spec's choice over the runner's default, field by field; a probe
 * (the spec's only: the runner has no port to probe by default) turns the line and delay rules off.
 */
export function effectiveReadiness(
  spec: ReadinessSpec | undefined,
  fallback: Readonly<ReadinessSpec> = DEFAULT_READINESS,
): { linePrefix: string | null; delayMs: number | null; probe: ProbeSpec | null } {
  const probe = spec?.probe ?? null;
  if (probe !== null) return { linePrefix: null, delayMs: null, probe };
  const prefix = spec?.linePrefix !== undefined ? spec.linePrefix : (fallback.linePrefix ?? null);
  const delay = spec?.delayMs !== undefined ? spec.delayMs : (fallback.delayMs ?? null);
  // An empty prefix would match before any output at all: treat it as "no line check".
  return { linePrefix: prefix === '' ? null : prefix, delayMs: delay, probe: null };
}
