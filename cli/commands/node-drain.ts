/**
 * `tessera node drain NAME`: calls `POST /nodes/:name/drain` until the node is empty or the timeout
 * passes, then says what moved (each evicted workload and where it is now) and what is left. The
 * drain route is level-triggered, so calling it again is how pods that became evictable meanwhile
 * (a minimum runtime ended, a pod bound just before the cordon) are evicted too.
 */
import { tesseraError } from '../../common/errors.ts';
import { withDefaults } from '../../common/options.ts';
import type { ApiClient } from '../client/http.ts';
import { formatTable } from '../client/output.ts';
import type { DrainReport, WorkloadView } from '../client/views.ts';
import { CliError, failure } from '../errors.ts';

/** How often the drain is called again while pods leave. */
export const DRAIN_POLL_MS = 1000;

/** An evicted pod, with where its workload stands once the drain is over. */
export interface MovedPod {
  workload: string;
  project: string;
  pod: string;
  requeued: boolean;
  /** Its workload's phase now, and the nodes its pods run on now (empty while it waits to be placed). */
  phase: string;
  nodes: string[];
}

/** What `node drain` prints with -o json|yaml. */
export interface DrainResult {
  node: string;
  drained: boolean;
  elapsedMs: number;
  moved: MovedPod[];
  left: DrainReport['held'] | DrainReport['stopping'];
}

/** How the drain waits; the clock and sleep are a test's to replace. */
export interface DrainWait {
  force: boolean;
  timeoutMs: number;
  /** Default DRAIN_POLL_MS. */
  intervalMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Drains `node` until it is empty or `timeoutMs` passes; never throws for a timeout (see `drained`). */
export async function drainAndWait(
  client: Pick<ApiClient, 'request'>,
  node: string,
  wait: DrainWait,
): Promise<DrainResult> {
  const o = withDefaults(wait, {
    intervalMs: DRAIN_POLL_MS,
    now: Date.now,
    sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
  });
  const start = o.now();
  const evicted = new Map<string, DrainReport['evicted'][number]>();
  const path = `/nodes/${encodeURIComponent(node)}/drain`;
  for (;;) {
    const report = await client.request<DrainReport>('POST', path, { force: o.force });
    for (const e of report.evicted) evicted.set(`${e.workloadId}/${e.pod}`, e);
    const out = o.now() - start >= o.timeoutMs;
    if (report.drained || out) {
      return {
        node,
        drained: report.drained,
        elapsedMs: o.now() - start,
        moved: await whereNow(client, [...evicted.values()]),
        left: [...report.held, ...report.stopping],
      };
    }
    await o.sleep(o.intervalMs);
  }
}

/** Each evicted pod with its workload's phase and nodes now; a workload since deleted shows as gone. */
async function whereNow(
  client: Pick<ApiClient, 'request'>,
  evicted: readonly DrainReport['evicted'][number][],
): Promise<MovedPod[]> {
  const views = new Map<string, WorkloadView | null>();
  for (const id of new Set(evicted.map((e) => e.workloadId))) {
    try {
      views.set(id, await client.request<WorkloadView>('GET', `/workloads/${encodeURIComponent(id)}`));
    } catch (e) {
      // Deleted since it was evicted: it is gone, which the report says; anything else is a failure.
      if (!(e instanceof CliError) || e.error.code !== 'TESSERA_E_NOT_FOUND') throw e;
      views.set(id, null);
    }
  }
  return evicted.map((e) => {
    const w = views.get(e.workloadId) ?? null;
    const live =
      w?.pods.filter((p) => p.node !== null && p.phase !== 'Stopping' && p.phase !== 'Stopped') ?? [];
    return {
      workload: e.workload,
      project: e.project,
      pod: e.pod,
      requeued: e.requeued,
      phase: w?.phase ?? 'gone',
      nodes: [...new Set(live.flatMap((p) => (p.node === null ? [] : [p.node])))],
    };
  });
}

function leftReason(p: DrainResult['left'][number]): string {
  if (!('hold' in p)) return 'stopping';
  if (p.hold === 'non-preemptible') return 'non-preemptible: waits until it ends, or drain --force';
  const until = p.until === undefined ? '' : ` until ${new Date(p.until).toISOString()}`;
  return `inside its minimum runtime${until}, or drain --force`;
}

/** The text form: what moved and where it is now, then what is left. */
export function drainText(r: DrainResult): string {
  const secs = Math.round(r.elapsedMs / 100) / 10;
  const head = r.drained
    ? `node ${r.node} cordoned and drained in ${secs}s\n`
    : `node ${r.node} cordoned; ${r.left.length} pod(s) still on it after ${secs}s\n`;
  const moved =
    r.moved.length === 0
      ? 'Evicted: none\n'
      : `Evicted:\n${formatTable({
          header: ['WORKLOAD', 'PROJECT', 'POD', 'NOW'],
          rows: r.moved.map((m) => [
            m.workload,
            m.project,
            m.pod,
            m.nodes.length > 0
              ? `${m.phase} on ${m.nodes.join(',')}`
              : `${m.phase}${m.requeued ? ' (queued to be placed elsewhere)' : ''}`,
          ]),
        })}`;
  const left =
    r.left.length === 0
      ? 'Left on the node: none\n'
      : `Left on the node:\n${formatTable({
          header: ['WORKLOAD', 'PROJECT', 'POD', 'WHY'],
          rows: r.left.map((p) => [p.workload, p.project, p.pod, leftReason(p)]),
        })}`;
  return `${head}${moved}${left}`;
}

/** The CLI's failure for a drain that ran out of time: exit 1, naming what is left and how to finish. */
export function notDrained(r: DrainResult): Error {
  const held = r.left.filter((p) => 'hold' in p).length;
  const hint =
    held > 0
      ? `${held} pod(s) are held by their workloads' rules: wait longer (--timeout), stop those workloads, or drain with --force`
      : 'pods are still stopping: wait longer (--timeout) or check the node agent';
  return failure(
    tesseraError(
      'TESSERA_E_CONFLICT',
      `node ${r.node} is not drained after ${Math.round(r.elapsedMs / 1000)}s: ${hint}`,
      {
        context: { node: r.node },
      },
    ),
  );
}
