/**
 * The agent's local HTTP transport: `/metrics`, `/healthz`, `/status` and `/events?since=N` on
 * 127.0.0.1, read-only views of the API of api.ts. Loopback only and GET only: it carries no
 * authentication, so it must never face the network. A second listener for scrapers
 * (`--metrics-address`) may face it, serving `/metrics` and `/healthz` only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { err, ok, type Result, tesseraError } from '../common/errors.ts';
import { type DefaultsOf, withDefaults } from '../common/options.ts';
import type { AgentEvent, AgentStatus } from './api.ts';
import { type AgentMetrics, metricsViewOf } from './metrics.ts';

/** What the local HTTP endpoint reads. */
export interface HttpSources {
  status: () => AgentStatus;
  events: (sinceSeq: number) => AgentEvent[];
  metrics: AgentMetrics;
}

/**
 * `/healthz`: ok while samples keep coming. None for five intervals (at least 5 s) means the sampler
 * is stuck or its streams keep dying, and enforcement is blind: that is what a liveness probe must see.
 */
export function healthzOf(s: AgentStatus): { ok: boolean; body: Record<string, unknown> } {
  const { lastSampleAtMs, startedAtMs, sampleIntervalMs, lastSamplerError, pid } = s.agent;
  const ok = s.atMs - (lastSampleAtMs ?? startedAtMs) <= Math.max(5 * sampleIntervalMs, 5000);
  return { ok, body: { ok, pid, lastSampleAtMs, lastSamplerError } };
}

/** A listening endpoint. */
export interface HttpEndpoint {
  port: number;
  close(): Promise<void>;
}

/** Paths a metrics listener (`--metrics-address`) serves: what a scraper and a probe need, no pod detail. */
export const METRICS_ONLY_PATHS: readonly string[] = ['/metrics', '/healthz'];

/** Options of `serveAgentHttp`. */
export interface AgentHttpOptions {
  /** The address to listen on; default `127.0.0.1` (the unauthenticated local endpoint). */
  host?: string;
  /** The only paths served; default every one. A listener facing the network serves METRICS_ONLY_PATHS. */
  only?: readonly string[];
}

/** The defaults of `AgentHttpOptions` a table can hold (no `only`: every path). */
const AGENT_HTTP_DEFAULTS = { host: '127.0.0.1' } as const satisfies DefaultsOf<AgentHttpOptions>;

/**
 * Serves `src` on `host`:`port` (0 lets the OS pick a free port); an error naming the address when it
 * cannot. `only` limits the paths served: a listener facing the network serves METRICS_ONLY_PATHS,
 * never `/status` or `/events`.
 */
export function serveAgentHttp(
  src: HttpSources,
  port: number,
  given: AgentHttpOptions = {},
): Promise<Result<HttpEndpoint>> {
  const options = withDefaults(given, AGENT_HTTP_DEFAULTS);
  const { host } = options;
  const server = createServer((req, res) => {
    void handleHttp(req, res, src, options.only);
  });
  return new Promise((resolve) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      resolve(
        err(
          tesseraError(
            'TESSERA_E_INVALID_CONFIG',
            `agent HTTP cannot listen on ${host}:${port}: ${e.message}`,
            {
              field: 'port',
              context: { port },
            },
          ),
        ),
      );
    });
    server.listen(port, host, () =>
      resolve(ok({ port: (server.address() as AddressInfo).port, close: () => closeServer(server) })),
    );
  });
}

/** The local listener (`port`, null = none) and the optional metrics listener: both serve, or neither. */
export async function serveAgentEndpoints(
  src: HttpSources,
  port: number | null,
  metrics: { host: string; port: number } | null,
): Promise<Result<{ local: HttpEndpoint | null; metrics: HttpEndpoint | null }>> {
  const local = port === null ? ok(null) : await serveAgentHttp(src, port);
  if (!local.ok) return local;
  if (metrics === null) return ok({ local: local.value, metrics: null });
  const m = await serveAgentHttp(src, metrics.port, { host: metrics.host, only: METRICS_ONLY_PATHS });
  if (!m.ok) {
    await local.value?.close();
    return m;
  }
  return ok({ local: local.value, metrics: m.value });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Keep-alive connections would hold close() open until they time out.
    server.closeAllConnections();
  });
}

async function handleHttp(
  req: IncomingMessage,
  res: ServerResponse,
  src: HttpSources,
  only: readonly string[] | undefined,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const json = (code: number, body: unknown): void => {
    res.writeHead(code, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
  };
  try {
    if (req.method !== 'GET') return json(405, { error: 'only GET is served here' });
    if (only !== undefined && !only.includes(url.pathname))
      return json(404, { error: `this listener serves ${only.join(' and ')} only` });
    switch (url.pathname) {
      case '/metrics':
        src.metrics.update(metricsViewOf(src.status()));
        res.writeHead(200, { 'content-type': src.metrics.contentType }).end(await src.metrics.text());
        return;
      case '/healthz': {
        const h = healthzOf(src.status());
        return json(h.ok ? 200 : 503, h.body);
      }
      case '/status':
        return json(200, src.status());
      case '/events': {
        const since = Number(url.searchParams.get('since') ?? '0');
        return json(200, src.events(Number.isFinite(since) ? since : 0));
      }
      default:
        return json(404, {
          error: `no route ${url.pathname}; try /metrics, /healthz, /status, /events?since=N`,
        });
    }
  } catch (e) {
    json(500, { error: e instanceof Error ? e.message : String(e) });
  }
}
