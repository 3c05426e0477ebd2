/**
 * One fuzz run against a live allocator: start it, make a few things to aim at (fixtures), send
 * generated HTTP requests, raw requests and websocket sessions in fixed-seed batches, watch the
 * process, then check the cluster still places a workload on a fresh node. Every part is bounded:
 * a request or session gets `deadlineMs`, the run `inputs` inputs, each wait a timeout.
 */
import fc from 'fast-check';
import { WORKLOAD_TYPES } from '../common/workload.ts';
import type { Fixtures } from './bodies.ts';
import { runSession, type WsSession, wsSessions } from './frames.ts';
import { type HttpInput, httpInputs } from './http-input.ts';
import { type RawInput, rawInputs, sendRaw } from './raw.ts';
import { count, emptyReport, type FuzzReport } from './report.ts';
import { httpSender, type Outcome } from './send.ts';
import { startTarget, type Target } from './target.ts';

/** How a run is shaped. */
export interface CampaignOptions {
  /** Inputs to send in all: HTTP requests, raw requests and websocket frames. */
  inputs: number;
  seed: number;
  /** Requests in flight at once. Default 8. */
  concurrency?: number;
  /** A request or session unanswered this long is a hang. Default 5000. */
  deadlineMs?: number;
  /** Called after every batch with the inputs sent so far. */
  progress?: (sent: number) => void;
}

type Item = { kind: 'http'; x: HttpInput } | { kind: 'raw'; x: RawInput } | { kind: 'ws'; x: WsSession };

const BATCH = 500;
const MAX_SAMPLES = 20;
const CHECK_NODE = 'fzcheck-node';
const CHECK_DEPARTMENT = 'fzcheck-dept';
const CHECK_PROJECT = 'fzcheck';

/** A small JSON client of the allocator for setup and the final check (not fuzzed). */
function client(t: Target) {
  return async (method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> => {
    const headers: Record<string, string> = { authorization: `Bearer ${t.adminToken}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${t.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // /metrics is text.
    }
    return { status: res.status, body: parsed };
  };
}

type Api = ReturnType<typeof client>;

const field = (v: unknown, key: string): unknown =>
  typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined;
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

async function must(api: Api, method: string, path: string, body?: unknown): Promise<unknown> {
  const r = await api(method, path, body);
  if (r.status >= 300)
    throw new Error(`setup: ${method} ${path} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Things for the fuzzer to aim at, and what it must not delete (its own credentials). */
async function makeFixtures(api: Api) {
  await must(api, 'POST', '/api/v1/departments', { name: 'fz-dept' });
  await must(api, 'POST', '/api/v1/projects', {
    name: 'fz-proj',
    department: 'fz-dept',
    quotas: [{ nodePool: 'default', gpu: 2 }],
  });
  await must(api, 'POST', '/api/v1/nodepools', { name: 'fz-pool', selector: { zone: 'fz' } });
  await must(api, 'POST', '/api/v1/users', { name: 'fz-user' });
  const token = await must(api, 'POST', '/api/v1/tokens', { kind: 'user', user: 'fz-user', name: 'fuzz' });
  const rule = await must(api, 'POST', '/api/v1/access-rules', {
    subject: 'fz-user',
    role: 'researcher',
    scope: 'project/fz-proj',
  });
  const workloadIds: string[] = [];
  for (const [i, project] of ['main', 'fz-proj', 'main'].entries()) {
    const w = await must(api, 'POST', '/api/v1/workloads', {
      name: `fz-w${i}`,
      project,
      type: 'training',
      command: ['true'],
      resources: { gpuFraction: 0.5 },
    });
    workloadIds.push(String(field(w, 'id')));
  }
  const keep = new Set<string>(['admin']);
  for (const r of list(await must(api, 'GET', '/api/v1/access-rules')))
    if (field(r, 'subject') === 'admin') keep.add(String(field(r, 'id')));
  for (const t of list(await must(api, 'GET', '/api/v1/tokens')))
    if (field(t, 'kind') !== 'user' || field(t, 'subject') === 'admin') keep.add(String(field(t, 'id')));
  const fixtures: Fixtures = {
    departments: ['default', 'fz-dept'],
    projects: ['main', 'fz-proj'],
    pools: ['fz-pool'],
    workloadIds,
    users: ['fz-user'],
    nodes: ['fz-node-0', CHECK_NODE],
    tokenIds: [String(field(token, 'id'))],
    ruleIds: [String(field(rule, 'id'))],
  };
  return { fixtures, keep, userToken: String(field(token, 'token')) };
}

/** The value of a counter in Prometheus text, 0 when absent. */
function counter(text: unknown, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(String(text));
  return m === null ? 0 : Number(m[1]);
}

/** Polls `probe` until it says done (a string) or `timeoutMs` passes; `notYet` says where it stands. */
async function waitFor(
  what: string,
  timeoutMs: number,
  probe: () => Promise<{ done: string } | { notYet: string }>,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await probe();
    if ('done' in r) return r.done;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${r.notYet})`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/**
 * After the fuzzing: clears what fuzzed requests may have set that would keep a new workload off a new
 * node (pools that claim it, cluster policies and rules, other nodes it could land on), then starts a
 * sim agent and waits for a small workload of a fresh project to be placed there.
 */
async function stillSchedules(t: Target, api: Api): Promise<FuzzReport['stillSchedules']> {
  const cyclesBefore = counter(
    (await api('GET', '/metrics')).body,
    'tessera_scheduler_cycle_duration_seconds_count',
  );
  const result = { ok: false, detail: '', cyclesBefore, cyclesAfter: cyclesBefore };
  try {
    for (const p of list((await api('GET', '/api/v1/nodepools')).body))
      await api('DELETE', `/api/v1/nodepools/${encodeURIComponent(String(field(p, 'name')))}`);
    for (const type of WORKLOAD_TYPES)
      for (const family of ['policies', 'rules']) await api('DELETE', `/api/v1/${family}/cluster/${type}`);
    await must(api, 'POST', '/api/v1/departments', { name: CHECK_DEPARTMENT });
    await must(api, 'POST', '/api/v1/projects', {
      name: CHECK_PROJECT,
      department: CHECK_DEPARTMENT,
      quotas: [{ nodePool: 'default', gpu: 1 }],
    });
    const agent = t.startAgent(CHECK_NODE);
    await waitFor(`node ${CHECK_NODE} to join`, 30_000, async () => {
      if (!agent.alive) throw new Error(`agent exited: ${agent.output()}`);
      const n = await api('GET', `/api/v1/nodes/${CHECK_NODE}`);
      const up =
        n.status === 200 && field(n.body, 'lost') === false && list(field(n.body, 'gpus')).length > 0;
      return up ? { done: 'up' } : { notYet: `GET answered ${n.status}` };
    });
    for (const n of list((await api('GET', '/api/v1/nodes')).body)) {
      const name = String(field(n, 'name'));
      if (name !== CHECK_NODE)
        await api('PATCH', `/api/v1/nodes/${encodeURIComponent(name)}`, { cordoned: true });
    }
    const w = await must(api, 'POST', '/api/v1/workloads', {
      name: 'fzcheck',
      project: CHECK_PROJECT,
      type: 'training',
      command: ['true'],
      resources: { gpuFraction: 0.5 },
    });
    const id = String(field(w, 'id'));
    result.detail = await waitFor('the check workload to be placed and run', 30_000, async () => {
      const r = await api('GET', `/api/v1/workloads/${id}`);
      const phase = String(field(r.body, 'phase'));
      const node = field(list(field(r.body, 'pods'))[0], 'node');
      return node === CHECK_NODE && (phase === 'Running' || phase === 'Completed')
        ? { done: `workload ${phase} on ${CHECK_NODE}` }
        : { notYet: `phase ${phase}, node ${String(node)}` };
    });
    result.cyclesAfter = counter(
      (await api('GET', '/metrics')).body,
      'tessera_scheduler_cycle_duration_seconds_count',
    );
    result.ok = result.cyclesAfter > cyclesBefore;
    if (!result.ok) result.detail += '; but the cycle counter did not move';
  } catch (e) {
    result.detail = e instanceof Error ? e.message : String(e);
  }
  return result;
}

function shownInput(item: Item): string {
  if (item.kind === 'http') {
    const body =
      item.x.body === null
        ? ''
        : ` body ${JSON.stringify(item.x.body.slice(0, 300))}${item.x.body.length > 300 ? `... (${item.x.body.length} chars)` : ''}`;
    return `${item.x.method} ${item.x.path.slice(0, 300)} ${JSON.stringify(item.x.headers['content-type'] ?? null)}${body}`;
  }
  if (item.kind === 'raw') return `raw ${JSON.stringify(item.x.bytes.toString('latin1').slice(0, 300))}`;
  return `websocket session ${item.x.auth}, hello ${item.x.hello}, ${item.x.messages.length} messages`;
}

const shown = (o: Outcome): string =>
  o.kind === 'status'
    ? `${o.status} ${o.body.slice(0, 500)}`
    : o.kind === 'hang'
      ? 'no answer in time'
      : o.error;

/** Runs one campaign and reports what it found; the allocator is stopped and its dir removed after. */
export async function runCampaign(options: CampaignOptions): Promise<FuzzReport> {
  const started = performance.now();
  const report = emptyReport(options.seed);
  const deadlineMs = options.deadlineMs ?? 5000;
  const concurrency = options.concurrency ?? 8;
  const t = await startTarget('info');
  const api = client(t);
  const http = httpSender(t.url, deadlineMs, concurrency);
  const port = Number(new URL(t.url).port);
  const wsUrl = `${t.url.replace('http', 'ws')}/api/v1/agents/connect`;
  try {
    const { fixtures, keep, userToken } = await makeFixtures(api);
    const items: fc.Arbitrary<Item> = fc.oneof(
      {
        weight: 85,
        arbitrary: httpInputs(fixtures, t.adminToken, { params: keep }).map(
          (x): Item => ({ kind: 'http', x }),
        ),
      },
      { weight: 3, arbitrary: rawInputs(t.adminToken).map((x): Item => ({ kind: 'raw', x })) },
      // A session sends a few frames (none when its upgrade is refused): about a sixth of the inputs.
      { weight: 5, arbitrary: wsSessions.map((x): Item => ({ kind: 'ws', x })) },
    );
    const one = async (item: Item): Promise<void> => {
      if (item.kind === 'ws') {
        const o = await runSession(wsUrl, { join: t.joinToken, user: userToken }, item.x, deadlineMs);
        report.sessions += 1;
        report.frames += o.sent;
        report.inputs += Math.max(o.sent, 1);
        report.upgrades[o.upgrade] = (report.upgrades[o.upgrade] ?? 0) + 1;
        if (o.closeCode !== null) report.closes[o.closeCode] = (report.closes[o.closeCode] ?? 0) + 1;
        if (o.upgrade >= 500)
          report.serverErrors.push({
            route: 'WS',
            request: shownInput(item),
            outcome: `upgrade ${o.upgrade}`,
          });
        if (o.hang) {
          report.wsHangs += 1;
          if (report.hangs.length < MAX_SAMPLES)
            report.hangs.push({ route: 'WS', request: shownInput(item), outcome: 'session did not end' });
        }
        return;
      }
      const sentAt = performance.now();
      const o =
        item.kind === 'http' ? await http.send(item.x) : await sendRaw('127.0.0.1', port, item.x, deadlineMs);
      if (o.kind === 'status') {
        const ms = performance.now() - sentAt;
        report.slowestMs = Math.max(report.slowestMs, ms);
        if (ms > 1000) report.slow += 1;
      }
      if (item.kind === 'http') report.http += 1;
      else report.raw += 1;
      report.inputs += 1;
      const c = count(report, item.x.route, o);
      const sample = { route: item.x.route, request: shownInput(item), outcome: shown(o) };
      if (c === '5xx' && report.serverErrors.length < MAX_SAMPLES) report.serverErrors.push(sample);
      if (c === 'hang' && report.hangs.length < MAX_SAMPLES) report.hangs.push(sample);
      if (c === 'reset' && report.resets.length < MAX_SAMPLES) report.resets.push(sample);
    };
    for (let batch = 0; report.inputs < options.inputs && t.allocator.alive; batch++) {
      const queue = fc.sample(items, { seed: options.seed + batch, numRuns: BATCH });
      const worker = async () => {
        for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
          if (report.inputs >= options.inputs || !t.allocator.alive) return;
          await one(item);
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      options.progress?.(report.inputs);
    }
    // A crash may take a moment to be reaped.
    await new Promise((r) => setTimeout(r, 200));
    report.crashed = !t.allocator.alive;
    if (report.crashed) report.crashOutput = t.allocator.output().slice(-8000);
    else report.stillSchedules = await stillSchedules(t, api);
    report.errorLogLines = t.allocator.errorLines;
    report.errorLogSamples = t.allocator.firstErrorLines;
  } finally {
    http.close();
    await t.close();
  }
  report.durationMs = performance.now() - started;
  return report;
}
