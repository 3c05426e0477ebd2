/**
 * The `readinessProbe` of a workload spec: how a node decides a pod is ready to serve. Its input
 * schema (Kubernetes' names and units: seconds), what each field accepts, and the normaliser that
 * turns it into milliseconds and checks that its port names one of the spec's `ports`.
 *
 * The allocator resolves the port name to the pod's host port when it builds the StartPod; the
 * agent probes 127.0.0.1:<that port> (agent/runner/probe.ts).
 */
import { z } from 'zod';
import { err, ok, type Result } from './errors.ts';
import { WIRE_LIMITS } from './wire-limits.ts';
import type { WorkloadPort } from './workload-ports.ts';
import type { SpecFieldError } from './workload-resources.ts';

/** How a probe checks a pod: an HTTP GET that must answer 200-399, or a TCP connection that must open. */
export type ProbeKind = 'http' | 'tcp';

/** Every probe kind. */
export const PROBE_KINDS = ['http', 'tcp'] as const satisfies readonly ProbeKind[];

/** A validated readiness probe, in milliseconds. */
export interface ReadinessProbe {
  kind: ProbeKind;
  /** The name of one of the spec's `ports`. */
  port: string;
  /** The HTTP path, starting with '/'; null for `tcp`. */
  path: string | null;
  /** Time after the pod starts before the first probe. */
  initialDelayMs: number;
  /** Time from one probe's answer to the next probe. */
  periodMs: number;
  /** A probe not answered within this long has failed. */
  timeoutMs: number;
  /** Consecutive failures that take a ready pod back to not ready. */
  failureThreshold: number;
}

/**
 * The defaults, as Kubernetes' except `periodSeconds`: 2 rather than 10, so a replica is counted
 * ready (and taken out of serving) within a couple of seconds; a probe is one local connection,
 * cheap enough to run that often.
 */
export const PROBE_DEFAULTS = {
  path: '/',
  initialDelaySeconds: 0,
  periodSeconds: 2,
  timeoutSeconds: 1,
  failureThreshold: 3,
} as const;

/** Shortest period and timeout: below this a probe is a busy loop, not a check. */
const MIN_INTERVAL_SECONDS = 0.1;
const MAX_SECONDS = WIRE_LIMITS.maxIntervalMs / 1000;
const MAX_FAILURE_THRESHOLD = 1000;

const seconds = z.number().min(0).max(MAX_SECONDS);

/** The `readinessProbe` object, before normalisation. */
export const ProbeInput = z.strictObject({
  http: z.strictObject({ path: z.string().optional(), port: z.string() }).optional(),
  tcp: z.strictObject({ port: z.string() }).optional(),
  initialDelaySeconds: seconds.optional(),
  periodSeconds: seconds.optional(),
  timeoutSeconds: seconds.optional(),
  failureThreshold: z.number().int().min(1).max(MAX_FAILURE_THRESHOLD).optional(),
  // Kubernetes' field, accepted for specs written for it; a readiness probe here passes on one success.
  successThreshold: z.literal(1).optional(),
});

type ProbeIn = z.infer<typeof ProbeInput>;

/** The probe field of a spec's input schema, spread into it by workload.ts. */
export const PROBE_INPUT_SHAPE = { readinessProbe: ProbeInput.optional() };

const SECONDS_HELP = `seconds, fractions allowed (e.g. 0.5), at most ${MAX_SECONDS}`;

/** What each probe field accepts, keyed by dotted path. */
export const PROBE_FIELD_HELP: Readonly<Record<string, string>> = {
  readinessProbe:
    "an object with exactly one of http: {path, port} or tcp: {port}, where port is the name of one of the spec's ports, and optional initialDelaySeconds, periodSeconds, timeoutSeconds, failureThreshold",
  'readinessProbe.http': "{path, port}: a GET of path (default '/') on that port must answer 200-399",
  'readinessProbe.http.path': `an absolute URL path such as '/health', at most ${WIRE_LIMITS.maxTextChars} characters, no spaces`,
  'readinessProbe.http.port': "the name of one of the spec's ports (e.g. 'http')",
  'readinessProbe.tcp': '{port}: a TCP connection to that port must open',
  'readinessProbe.tcp.port': "the name of one of the spec's ports (e.g. 'http')",
  'readinessProbe.initialDelaySeconds': `${SECONDS_HELP} (default ${PROBE_DEFAULTS.initialDelaySeconds})`,
  'readinessProbe.periodSeconds': `${SECONDS_HELP}, at least ${MIN_INTERVAL_SECONDS} (default ${PROBE_DEFAULTS.periodSeconds})`,
  'readinessProbe.timeoutSeconds': `${SECONDS_HELP}, at least ${MIN_INTERVAL_SECONDS} (default ${PROBE_DEFAULTS.timeoutSeconds})`,
  'readinessProbe.failureThreshold': `a whole number from 1 to ${MAX_FAILURE_THRESHOLD} (default ${PROBE_DEFAULTS.failureThreshold})`,
  'readinessProbe.successThreshold': '1 (a readiness probe passes on one success)',
};

/** The fields accepted inside the probe object at `path`, for "unknown field" messages; null elsewhere. */
export function probeFieldsAt(path: string): readonly string[] | null {
  if (path === 'readinessProbe') return Object.keys(ProbeInput.shape);
  if (path === 'readinessProbe.http') return ['path', 'port'];
  if (path === 'readinessProbe.tcp') return ['port'];
  return null;
}

/** A probe in words, for `describe`: `http GET :http/health every 2s (timeout 1s, 3 failures, after 0s)`. */
export function probeText(p: ReadinessProbe): string {
  const s = (ms: number) => `${ms / 1000}s`;
  const what = p.kind === 'http' ? `http GET :${p.port}${p.path ?? '/'}` : `tcp :${p.port}`;
  return `${what} every ${s(p.periodMs)} (timeout ${s(p.timeoutMs)}, ${p.failureThreshold} failures, after ${s(p.initialDelayMs)})`;
}

/** The probe part of a validated spec: absent when the spec has none. */
export interface ProbeFields {
  readinessProbe?: ReadinessProbe;
}

/** Validates and normalises `readinessProbe` against the spec's normalised `ports`. */
export function normaliseProbe(
  s: { readinessProbe?: ProbeIn | undefined },
  ports: readonly WorkloadPort[],
  specError: SpecFieldError,
): Result<ProbeFields> {
  const p = s.readinessProbe;
  if (p === undefined) return ok({});
  if ((p.http === undefined) === (p.tcp === undefined))
    return err(
      specError(
        'readinessProbe',
        p.http === undefined ? 'needs http or tcp' : 'has both http and tcp: give exactly one',
      ),
    );
  const kind: ProbeKind = p.http === undefined ? 'tcp' : 'http';
  const field = `readinessProbe.${kind}.port`;
  const port = p.http?.port ?? p.tcp?.port ?? '';
  if (!ports.some((x) => x.name === port)) {
    const named =
      ports.length === 0 ? 'the spec names no ports' : `its ports are ${ports.map((x) => x.name).join(', ')}`;
    return err(
      specError(
        field,
        `${JSON.stringify(port)} is not one of the spec's ports (${named}); add ports: [{name: ${JSON.stringify(port)}}] or name an existing one`,
      ),
    );
  }
  let path: string | null = null;
  if (p.http !== undefined) {
    path = p.http.path ?? PROBE_DEFAULTS.path;
    // Sent as the request line's target: a space or control character would break the request.
    if (!path.startsWith('/') || path.length > WIRE_LIMITS.maxTextChars || /[\s\p{Cc}]/u.test(path))
      return err(
        specError('readinessProbe.http.path', `${JSON.stringify(path)} is not an absolute URL path`),
      );
  }
  const ms = (v: number | undefined, fallback: number) => Math.round((v ?? fallback) * 1000);
  const periodMs = ms(p.periodSeconds, PROBE_DEFAULTS.periodSeconds);
  const timeoutMs = ms(p.timeoutSeconds, PROBE_DEFAULTS.timeoutSeconds);
  for (const [name, value] of [
    ['periodSeconds', periodMs],
    ['timeoutSeconds', timeoutMs],
  ] as const) {
    if (value < MIN_INTERVAL_SECONDS * 1000)
      return err(specError(`readinessProbe.${name}`, `${value / 1000} is below ${MIN_INTERVAL_SECONDS}`));
  }
  return ok({
    readinessProbe: {
      kind,
      port,
      path,
      initialDelayMs: ms(p.initialDelaySeconds, PROBE_DEFAULTS.initialDelaySeconds),
      periodMs,
      timeoutMs,
      failureThreshold: p.failureThreshold ?? PROBE_DEFAULTS.failureThreshold,
    },
  });
}
