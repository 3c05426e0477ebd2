/** A small fetch client for the allocator's `/api/v1` (HTTP or HTTPS), and the shapes of what it answers. */
import { until } from '../helpers/wait.ts';

/** How often the harness asks the allocator while it waits: every test waits this way, on a loaded machine. */
export const HTTP_POLL_MS = 50;

/** A pod as the API shows it. */
export interface PodView {
  name: string;
  node: string | null;
  phase: string;
  gpus: { uuid: string; fraction: number; memoryMiB: number; memoryLimitMiB: number }[];
  exitCode: number | null;
}

/** A workload as the API shows it (the fields these tests read). */
export interface WorkloadView {
  id: string;
  name: string;
  project: string;
  phase: string;
  phaseReason: string | null;
  pods: PodView[];
}

/** One stored phase change. */
export interface EventView {
  time: string;
  workload: string;
  from: string | null;
  to: string;
  reason: string;
  message: string | null;
}

/** An answer of the API. */
export interface ApiResponse {
  status: number;
  body: unknown;
}

/** A small fetch client for `/api/v1`. */
export class Api {
  /** `fetchFn`: the fetch to send with (one trusting the cluster's CA under TLS); default the global one. */
  constructor(
    private readonly base: () => string,
    private readonly token: () => string,
    private readonly fetchFn: () => typeof fetch = () => fetch,
  ) {}

  /** Sends a request; `token` null sends no Authorization header. */
  async request(
    method: string,
    path: string,
    body?: unknown,
    token: string | null = this.token(),
  ): Promise<ApiResponse> {
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await this.fetchFn()(`${this.base()}/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: kept as text.
    }
    return { status: res.status, body: parsed };
  }

  /** The body of a request that must answer `status`. */
  async expect(status: number, method: string, path: string, body?: unknown): Promise<unknown> {
    const r = await this.request(method, path, body);
    if (r.status !== status)
      throw new Error(`${method} ${path}: expected ${status}, got ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async submit(spec: Record<string, unknown>): Promise<WorkloadView> {
    return (await this.expect(201, 'POST', '/workloads', spec)) as WorkloadView;
  }

  async workload(id: string): Promise<WorkloadView> {
    return (await this.expect(200, 'GET', `/workloads/${id}`)) as WorkloadView;
  }

  async events(id: string): Promise<EventView[]> {
    return (await this.expect(200, 'GET', `/workloads/${id}/events`)) as EventView[];
  }

  /** Polls until workload `id` is in `phase` (one of, comma-separated); returns it. */
  async waitPhase(id: string, phase: string, timeoutMs = 15_000): Promise<WorkloadView> {
    const wanted = phase.split(',');
    let last = '';
    try {
      return await until(
        async () => {
          const w = await this.workload(id);
          last = `${w.phase} (${w.phaseReason ?? ''}) pods ${JSON.stringify(w.pods.map((p) => [p.name, p.node, p.phase]))}`;
          return wanted.includes(w.phase) ? w : null;
        },
        `workload ${id} in ${phase}`,
        timeoutMs,
        HTTP_POLL_MS,
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}; last seen ${last}`);
    }
  }

  /** Creates project `name` in department `default` with a deserved GPU quota on pool `default`. */
  async createProject(name: string, gpu: number, overQuotaWeight = 1): Promise<unknown> {
    return this.expect(201, 'POST', '/projects', {
      name,
      department: 'default',
      quotas: [{ nodePool: 'default', gpu, overQuotaWeight }],
    });
  }
}
