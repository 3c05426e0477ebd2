/**
 * The system under test as real processes over loopback: `tessera allocator` and
 * `tessera agent --gpu sim` started from bin/tessera.js in temp dirs, driven through the REST API,
 * and killed, frozen and restarted by the fault tests. A cluster made with `{tls: true}` serves
 * HTTPS / WSS with a certificate from its own CA, which its agents and its API client trust. Every process's output is kept and printed
 * when a test fails; `cleanup()` kills every process it started and every pod (pods are detached
 * process-group leaders that outlive their agent by design, so they are found by their environment).
 *
 * The folder: harness.ts (clusters; re-exports the rest), api.ts (REST client), journal.ts (the
 * test pod's command and journal, overlap checks), procs.ts (child processes, /proc, sim GPU use),
 * poll.ts (holdsFor; until comes from test/helpers/wait.ts), fixtures/pod.mjs (the test pod), and one *.test.ts per concern.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initSimState, parseSimGpus } from '../../agent/gpu/sim/spec.ts';
import { fetchTrusting } from '../../cli/client/tls-fetch.ts';
import { ensureLocalTls, type LocalTls } from '../../cli/local-ca.ts';
import { killAndRemoveCgroups, testUidRange } from '../agent/runtime/helpers.ts';
import { freePort } from '../helpers/registry.ts';
import { GiveUp, until } from '../helpers/wait.ts';
import { Api, HTTP_POLL_MS } from './api.ts';
import { type JournalLine, type PodPlan, podCommand, readJournalFile } from './journal.ts';
import { type GpuUse, gpuUseIn, killGroup, Proc, processesUnder } from './procs.ts';

/** Host ports each test node may give its pods. */
const NODE_PORTS = 16;

/** Clusters made by this test process, numbering their cgroup parents. */
let clusters = 0;

export * from '../helpers/wait.ts';
export * from './api.ts';
export * from './journal.ts';
export * from './poll.ts';
export { alive, type GpuUse, Proc } from './procs.ts';

/** Flags of `tessera allocator` the tests vary. */
export interface AllocatorFlags {
  /** Default 3s: fault tests wait for leases to run out. */
  lease?: string;
  /** Default 500ms. */
  heartbeat?: string;
  /**
   * Default 0 (any free port). A restart passes the port of the run before: agents were started
   * with its URL and must find the allocator there again.
   */
  port?: number;
  /** More flags, as given (e.g. `--serve-scale-down-window 2s`). Default none. */
  extra?: readonly string[];
}

/** How a cluster runs across allocator restarts. */
export interface ClusterOptions {
  /** Serve HTTPS / WSS with a certificate from a CA made for this cluster. Default false (loopback HTTP). */
  tls?: boolean;
}

/** A running test cluster: one allocator data dir, any number of sim nodes. */
export class Cluster {
  readonly root: string;
  readonly allocDir: string;
  readonly api: Api;
  alloc: Proc | null = null;
  /** `http(s)://127.0.0.1:PORT` of the allocator's latest run. */
  url = '';
  port = 0;
  adminToken = '';
  joinToken = '';
  /** The project a fresh allocator creates (contract: `default`). */
  defaultProject = 'default';
  readonly agents = new Map<string, Proc>();
  /** The CA, certificate and key of a TLS cluster (made on the first allocator start); null without TLS. */
  tls: LocalTls | null = null;
  private readonly wantTls: boolean;
  private fetchFn: typeof fetch = fetch;
  private readonly procs: Proc[] = [];
  /** Every agent's pod cgroups go below this; removed at cleanup. */
  readonly cgroupParent: string;
  /** Each node's uid range, fixed for the cluster's life so a restarted agent adopts its pods. */
  private readonly uidRanges = new Map<string, string>();
  /** Each node's host port range, likewise fixed: all nodes share this machine's ports. */
  private readonly portRanges = new Map<string, string>();

  constructor(opts: ClusterOptions = {}) {
    this.wantTls = opts.tls ?? false;
    this.root = mkdtempSync(join(tmpdir(), 'tessera-it-'));
    // Pods run as their own uids: they pass through the root to the sim state and append to journals.
    chmodSync(this.root, 0o711);
    this.allocDir = join(this.root, 'allocator');
    mkdirSync(join(this.root, 'journals'), { recursive: true });
    chmodSync(join(this.root, 'journals'), 0o777);
    this.cgroupParent = `tessera-test/it-${process.pid}-${++clusters}`;
    this.api = new Api(
      () => this.url,
      () => this.adminToken,
      () => this.fetchFn,
    );
  }

  /** The CA, certificate and key for a TLS cluster, made once (as `tessera up` does) under the root. */
  private async ensureTls(): Promise<LocalTls | null> {
    if (!this.wantTls) return null;
    if (this.tls === null) {
      const made = await ensureLocalTls(
        join(this.root, 'tls'),
        { dns: ['localhost'], ips: ['127.0.0.1', '::1'] },
        Date.now(),
      );
      if (!made.ok) throw new Error(made.error.message);
      this.tls = made.value;
      this.fetchFn = fetchTrusting(readFileSync(made.value.caFile, 'utf8'));
    }
    return this.tls;
  }

  /**
   * Starts `tessera allocator` on port 0 over this cluster's data dir (kept between runs) and waits
   * for the allocator.json of this run (its pid), then reads the tokens.
   */
  async startAllocator(opts: AllocatorFlags = {}): Promise<Proc> {
    rmSync(join(this.allocDir, 'allocator.json'), { force: true });
    const tls = await this.ensureTls();
    const p = new Proc('allocator', [
      'allocator',
      ...(tls === null ? [] : ['--tls-cert', tls.certFile, '--tls-key', tls.keyFile]),
      '--data',
      this.allocDir,
      '--port',
      String(opts.port ?? 0),
      '--host',
      '127.0.0.1',
      '--lease',
      opts.lease ?? '3s',
      '--heartbeat',
      opts.heartbeat ?? '500ms',
      '--log-level',
      'info',
      ...(opts.extra ?? []),
    ]);
    this.procs.push(p);
    this.alloc = p;
    const info = await until(
      () => {
        if (p.exit !== null) throw new GiveUp(`allocator exited ${JSON.stringify(p.exit)} before listening`);
        const file = join(this.allocDir, 'allocator.json');
        if (!existsSync(file)) return null;
        const v = JSON.parse(readFileSync(file, 'utf8')) as { url?: unknown; pid?: unknown };
        return typeof v.url === 'string' && v.pid === p.pid ? { url: v.url } : null;
      },
      'allocator.json of the allocator just started',
      15_000,
      HTTP_POLL_MS,
    ).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\n--- allocator output ---\n${p.output()}`);
    });
    this.url = info.url;
    this.port = Number(new URL(info.url).port);
    this.adminToken = readFileSync(join(this.allocDir, 'admin-token'), 'utf8').trim();
    this.joinToken = readFileSync(join(this.allocDir, 'join-token'), 'utf8').trim();
    this.defaultProject = await this.findDefaultProject();
    return p;
  }

  /**
   * The project a fresh allocator made: `default` by the issue's contract; should the service name
   * it otherwise, the one project of department `default` (and the test run says so on stderr).
   */
  private async findDefaultProject(): Promise<string> {
    const list = (await this.api.expect(200, 'GET', '/projects')) as { name: string; department: string }[];
    if (list.some((p) => p.name === 'default')) return 'default';
    const fallback = list.find((p) => p.department === 'default')?.name;
    if (fallback === undefined) throw new Error(`no default project; projects: ${JSON.stringify(list)}`);
    process.stderr.write(`note: the allocator made project '${fallback}', not 'default'\n`);
    return fallback;
  }

  /** The node's folders: `<root>/nodes/<node>/{data,sim}` (the pod fixture reads the node name from them). */
  nodeDirs(node: string): { data: string; sim: string } {
    const dir = join(this.root, 'nodes', node);
    return { data: join(dir, 'data'), sim: join(dir, 'sim') };
  }

  /**
   * Starts `tessera agent --gpu sim` as `node`, linked to the allocator. Its sim GPUs are made once,
   * seeded with the node name so two nodes' GPUs have different UUIDs, as real GPUs do (the CLI's
   * `--sim-gpus` seeds every node alike); a restart reuses them and keeps their registrations.
   */
  async startAgent(
    node: string,
    gpus = '2xH100-80GB',
    opts: { ca?: string | null; args?: readonly string[] } = {},
  ): Promise<Proc> {
    const dirs = this.nodeDirs(node);
    const range = testUidRange();
    const slot = this.uidRanges.size;
    if (!this.uidRanges.has(node)) {
      // Slices of this test process's range: nodes of one cluster never share a pod uid.
      this.uidRanges.set(
        node,
        range === null ? 'agent' : `${range.first + slot * 8}-${range.first + slot * 8 + 7}`,
      );
    }
    if (!this.portRanges.has(node)) {
      // A port the system just had free starts the node's range; the ones after it are most likely
      // free too, and no two nodes of a cluster (one machine) get the same one.
      const first = Math.min(await freePort(), 65_535 - NODE_PORTS);
      this.portRanges.set(node, `${first}-${first + NODE_PORTS - 1}`);
    }
    if (!existsSync(join(dirs.sim, 'gpus.json'))) {
      const specs = parseSimGpus(gpus);
      if (!specs.ok) throw new Error(specs.error.message);
      await initSimState(dirs.sim, specs.value, { seed: `it-${node}` });
    }
    // `opts.ca`: another CA file, or null for none; default the cluster's own under TLS.
    const ca = opts.ca === undefined ? (this.tls?.caFile ?? null) : opts.ca;
    // The join token by environment, as deployments pass it (`ps` shows a command line to everyone).
    const p = new Proc(
      `agent ${node}`,
      [
        'agent',
        '--gpu',
        'sim',
        '--sim-state',
        dirs.sim,
        '--data',
        dirs.data,
        '--pod-root',
        join(this.root, 'pods', node),
        '--cgroup-parent',
        `${this.cgroupParent}/${node}`,
        '--pod-uid-range',
        this.uidRanges.get(node) ?? 'agent',
        '--allocator',
        this.url,
        ...(ca === null ? [] : ['--ca', ca]),
        '--node',
        node,
        '--sample-interval',
        '250ms',
        '--advertise-address',
        '127.0.0.1',
        '--port-range',
        this.portRanges.get(node) ?? '',
        '--log-level',
        'info',
        // The process runtime unless a test asks for containers (`args`: `--runtime container`).
        ...(opts.args ?? ['--runtime', 'process']),
      ],
      { TESSERA_TOKEN: this.joinToken },
    );
    this.procs.push(p);
    this.agents.set(node, p);
    return p;
  }

  /** Keeps `p` with the cluster's own processes: its output in `logs()`, killed by `cleanup()`. */
  adopt(p: Proc): Proc {
    this.procs.push(p);
    return p;
  }

  /** The agent process of `node`. */
  agent(node: string): Proc {
    const p = this.agents.get(node);
    if (p === undefined) throw new Error(`no agent ${node}`);
    return p;
  }

  /** Waits until the allocator lists every node in `nodes` as connected (not lost) with its GPUs. */
  async waitNodes(nodes: readonly string[], timeoutMs = 15_000): Promise<void> {
    await until(
      async () => {
        for (const n of nodes) {
          const p = this.agents.get(n);
          // Fail now, with its words, rather than after the timeout.
          if (p !== undefined && p.exit !== null)
            throw new GiveUp(`agent ${n} exited ${JSON.stringify(p.exit)}: ${p.output()}`);
        }
        const r = await this.api.request('GET', '/nodes');
        if (r.status !== 200 || !Array.isArray(r.body)) return false;
        const list = r.body as { name: string; lost: boolean; gpus: unknown[] }[];
        return nodes.every((n) => list.some((x) => x.name === n && !x.lost && x.gpus.length > 0));
      },
      `nodes ${nodes.join(', ')} registered`,
      timeoutMs,
      HTTP_POLL_MS,
    );
  }

  /** A fresh journal file path for a workload's pods (pass as `env: {JOURNAL}`). */
  journal(name: string): string {
    const file = join(this.root, 'journals', `${name}.jsonl`);
    // Copies of one pod on two nodes run as two uids, and both append here: open to all from the start.
    if (!existsSync(file)) {
      writeFileSync(file, '');
      chmodSync(file, 0o666);
    }
    return file;
  }

  /** The lines of a journal so far. */
  readJournal(name: string): JournalLine[] {
    return readJournalFile(this.journal(name));
  }

  /** Live GPU registrations on `node`'s sim GPUs, each with the pod its process belongs to. */
  gpuUse(node: string): GpuUse[] {
    return gpuUseIn(node, this.nodeDirs(node).sim);
  }

  /**
   * Samples every node's sim GPUs every `everyMs` and records each moment one pod held GPU memory on
   * two nodes at once; `by: 'workload'` counts every pod of a workload as one (for one-replica
   * workloads, whose rescheduled pod may get a new name). `stop()` ends sampling, returns what it saw.
   */
  watchGpus(
    nodes: readonly string[],
    everyMs = 100,
    by: 'pod' | 'workload' = 'pod',
  ): { stop(): { samples: number; doubles: string[] } } {
    let samples = 0;
    const doubles: string[] = [];
    const timer = setInterval(() => {
      samples++;
      const where = new Map<string, GpuUse[]>();
      for (const n of nodes) {
        for (const u of this.gpuUse(n)) {
          const key = by === 'pod' ? u.podId : u.workload;
          where.set(key, [...(where.get(key) ?? []), u]);
        }
      }
      for (const [key, uses] of where) {
        if (new Set(uses.map((u) => u.node)).size > 1) {
          doubles.push(
            `${new Date().toISOString()} ${key} holds GPU memory on ${uses
              .map((u) => `${u.node} (${u.podId}, pid ${u.pid}, epoch ${u.epoch}, ${u.usedMemoryMiB} MiB)`)
              .join(' and ')}`,
          );
        }
      }
    }, everyMs);
    return {
      stop: () => {
        clearInterval(timer);
        return { samples, doubles };
      },
    };
  }

  /** Every process's output, for a failed test's report. */
  logs(): string {
    return this.procs
      .map((p) => `\n===== ${p.name} (pid ${p.pid}, exit ${JSON.stringify(p.exit)}) =====\n${p.output()}`)
      .join('\n');
  }

  /** Kills the allocator, every agent and every pod process (group and all), and removes the dirs. */
  async cleanup(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.kill()));
    for (const pid of processesUnder(this.root)) killGroup(pid);
    await killAndRemoveCgroups(this.cgroupParent);
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** A cluster with its allocator and the given agents started and registered. */
export async function startCluster(
  nodes: Record<string, string>,
  opts: AllocatorFlags & ClusterOptions & { agentArgs?: readonly string[] } = {},
): Promise<Cluster> {
  const c = new Cluster({ tls: opts.tls ?? false });
  try {
    await c.startAllocator(opts);
    for (const [node, gpus] of Object.entries(nodes))
      await c.startAgent(node, gpus, opts.agentArgs === undefined ? {} : { args: opts.agentArgs });
    await c.waitNodes(Object.keys(nodes));
  } catch (e) {
    const logs = c.logs();
    await c.cleanup();
    throw new Error(`${(e as Error).message}\n${logs}`);
  }
  return c;
}

/** A workload spec running the test pod, with its journal in `env.JOURNAL`. */
export function testWorkload(
  c: Cluster,
  name: string,
  opts: {
    project?: string;
    type?: 'workspace' | 'training' | 'distributed' | 'inference';
    priorityClass?: string;
    replicas?: number;
    minReplicas?: number;
    maxReplicas?: number;
    resources?: Record<string, unknown>;
    run?: PodPlan;
    /** `keep` (the default) or `reschedule:DURATION`. */
    disconnectPolicy?: string;
  } = {},
): Record<string, unknown> {
  const spec: Record<string, unknown> = {
    name,
    project: opts.project ?? c.defaultProject,
    type: opts.type ?? 'training',
    command: podCommand(opts.run),
    env: { JOURNAL: c.journal(name) },
    resources: opts.resources ?? { gpuDevices: 1 },
  };
  for (const k of ['priorityClass', 'replicas', 'minReplicas', 'maxReplicas', 'disconnectPolicy'] as const) {
    if (opts[k] !== undefined) spec[k] = opts[k];
  }
  return spec;
}
