/**
 * Workloads in containers: what running pods in Podman costs over podman itself and over processes.
 * A benchmark, not a test: it prints figures against goals, never fails on them.
 *
 * 1. Pod start latency: `runner.start(spec)` (what the agent does when a StartPod frame arrives) to
 *    the runner reporting `running`, for a busybox pod whose image is present (IfNotPresent, no
 *    pull), p50 / p99 over N starts; in the same run and alternated start by start (so load on a
 *    shared host hits both alike), `podman run -d` of the same image and command alone, with the
 *    same ulimits, `--network host`, `--log-driver passthrough` into a log file, cgroup parent and
 *    init as the runtime's. Goal: agent <= 1.2 x podman + 100 ms, at p50 and at p99.
 * 2. Agent RSS and CPU with 8 container pods (busybox `sleep`) at 1 Hz sampling, one sim GPU: an
 *    agent process, measured from /proc once every pod is running; and the same with 8 process pods.
 *    The agent runs as `--pods FILE` would run it (sim driver, runtime, createAgent, startPod), from
 *    this file as a worker process: `--pods` has no `image` field, so `tessera agent` itself cannot
 *    be handed container pods without an allocator.
 *
 * Every container is removed afterwards, by the `tessera.node` label of the bench's node names.
 *
 *   npx tsx bench/containers.ts [--runs 20] [--ctr-pods 8] [--ctr-window-s 30]
 *   (or npm run bench -- --only containers)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAgent } from '../agent/agent.ts';
import type { AgentPodStatus } from '../agent/api.ts';
import { SIM_TOOLS } from '../agent/gpu/sim/spec.ts';
import { openDriver } from '../agent/main.ts';
import { createRunner, isEnded, type PodSpec, type PodStatus } from '../agent/runner/index.ts';
import { createContainerRuntime, type Ulimit } from '../agent/runtime/container/index.ts';
import { normaliseOptions } from '../agent/runtime/container/options.ts';
import { createRuntime } from '../agent/runtime/select.ts';
import { readStateFile } from '../agent/state-file.ts';
import { createLogger } from '../common/log.ts';
import { renderTable } from '../sim/report.ts';
import { ensureTestImages } from '../test/helpers/images.ts';
import { PODMAN_RUN_LIMITS, podman, podmanOk, podmanUnavailableReason } from '../test/helpers/podman.ts';
import { procSample } from './agent.ts';
import { summarize } from './podman.ts';

/** Options of the containers benchmark, with their defaults. */
export interface ContainersBenchOptions {
  /** Timed starts of each kind (agent, podman alone), after one untimed warm-up pair. Default 20. */
  runs: number;
  /** Pods the measured agent runs. Default 8. */
  pods: number;
  /** Seconds the agent is measured for once every pod is running. Default 30. */
  windowS: number;
}

const DEFAULTS: ContainersBenchOptions = { runs: 20, pods: 8, windowS: 30 };
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const GOAL_FACTOR = 1.2;
const GOAL_SLACK_MS = 100;
const quiet = createLogger({ stream: { write: () => {} } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** PODMAN_RUN_LIMITS (`--ulimit name=soft:hard` pairs) as the runtime's option, so both sides match. */
function ulimitsOf(flags: readonly string[]): Ulimit[] {
  const out: Ulimit[] = [];
  for (let i = 0; i + 1 < flags.length; i += 2) {
    const m = /^(\w+)=(\d+):(\d+)$/.exec(flags[i + 1] ?? '');
    if (flags[i] !== '--ulimit' || m === null)
      throw new Error(`not a --ulimit pair: ${flags[i]} ${flags[i + 1]}`);
    out.push({ name: m[1] ?? '', soft: Number(m[2]), hard: Number(m[3]) });
  }
  return out;
}
const ULIMITS = ulimitsOf(PODMAN_RUN_LIMITS);

/** Removes every container labelled `tessera.node=<node>`; how many there were. */
async function removeNodeContainers(node: string): Promise<number> {
  const ids = (await podmanOk(['ps', '-aq', '--filter', `label=tessera.node=${node}`]))
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (ids.length > 0) await podmanOk(['rm', '--force', '--ignore', '--time', '0', ...ids]);
  return ids.length;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** Removes a cgroup directory and those under it, deepest first (cgroupfs lets only rmdir remove them). */
function rmdirCgroup(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true }))
    if (e.isDirectory()) rmdirCgroup(join(dir, e.name));
  rmdirSync(dir);
}

/**
 * Removes the bench node's cgroup parent (`tessera/<node>`) from every hierarchy, once its pods are
 * gone: the runtimes leave the parent, which an agent keeps for its next pods.
 */
function removeNodeCgroups(node: string): void {
  const hierarchies = existsSync(join(CGROUP_ROOT, 'cgroup.controllers'))
    ? [CGROUP_ROOT]
    : readdirSync(CGROUP_ROOT).map((h) => join(CGROUP_ROOT, h));
  for (const h of hierarchies) {
    const dir = join(h, 'tessera', node);
    if (!existsSync(dir)) continue;
    try {
      rmdirCgroup(dir);
    } catch (e) {
      console.log(`containers: left ${dir}: ${(e as Error).message}`);
    }
  }
}

/** A busybox `sleep` pod spec; no image runs it on the process runtime. */
function sleepSpec(podId: string, image: string | undefined): PodSpec {
  return {
    podId,
    workload: 'bench',
    project: 'bench',
    epoch: 1,
    command: ['sleep', '600'],
    env: {},
    grants: [],
    priority: 0,
    graceSeconds: 0,
    ...(image === undefined ? {} : { image, imagePullPolicy: 'IfNotPresent' as const }),
  };
}

/** Spawns `podman args` with stdout and stderr into `logPath` (as passthrough needs); its exit code. */
function podmanToLog(args: readonly string[], logPath: string): Promise<number> {
  const fd = openSync(logPath, 'a');
  const child = spawn('podman', args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? -1));
  });
}

interface StartLatency {
  agentMs: number[];
  /** runner.start to the runtime's `container-created` event (its `podman run -d` returned). */
  createdMs: number[];
  podmanMs: number[];
  /** `podman image exists` alone: the IfNotPresent check the runtime makes once per image. */
  existsMs: number[];
  podmanFlags: string[];
}

/** Part 1: runner.start to running against `podman run -d`, alternated, `runs` of each after a warm-up. */
async function startLatency(image: string, runs: number): Promise<StartLatency> {
  const node = `ctrbench-start-${process.pid}`;
  const root = mkdtempSync(join(tmpdir(), 'tessera-bench-ctr-'));
  const config = normaliseOptions({ nodeName: node, logger: quiet, ulimits: ULIMITS });
  const runtime = createContainerRuntime({ nodeName: node, logger: quiet, ulimits: ULIMITS });
  const waiters = new Map<string, (s: PodStatus) => void>();
  const createdAt = new Map<string, number>();
  const runner = createRunner({
    dataDir: join(root, 'data'),
    node: { gpus: [], hamiCore: false },
    runtime,
    onStatus: (s) => {
      if (s.state === 'running' || isEnded(s.state)) waiters.get(s.podId)?.(s);
    },
    onEvent: (e) => {
      if (e.kind === 'container-created') createdAt.set(e.podId, performance.now());
    },
    log: quiet,
  });
  // What the runtime gives every container (runArgs in agent/runtime/container/args.ts), less what
  // only an agent needs (cidfile, pidfile, labels of its pod, env file).
  const podmanFlags = [
    ...PODMAN_RUN_LIMITS,
    '--network',
    'host',
    '--log-driver',
    'passthrough',
    '--cgroup-parent',
    config.cgroupParent,
    ...(config.initPath === null ? [] : ['--init', '--init-path', config.initPath]),
  ];
  const agentMs: number[] = [];
  const createdMs: number[] = [];
  const podmanMs: number[] = [];
  const existsMs: number[] = [];
  const agentStart = async (i: number): Promise<number> => {
    const spec = sleepSpec(`start-${i}`, image);
    const reached = new Promise<PodStatus>((r) => waiters.set(spec.podId, r));
    const t0 = performance.now();
    const r = runner.start(spec);
    if (!r.ok) throw new Error(r.error.message);
    const s = await reached;
    const ms = performance.now() - t0;
    if (s.state !== 'running') throw new Error(`pod ${spec.podId} ended before running: ${s.reason}`);
    if (i >= 0) createdMs.push((createdAt.get(spec.podId) ?? Number.NaN) - t0);
    const stopped = await runner.stop(spec.podId, 'bench', 0);
    if (!stopped.ok) throw new Error(stopped.error.message);
    runner.forget(spec.podId);
    return ms;
  };
  const podmanStart = async (i: number): Promise<number> => {
    const name = `${node}-plain-${i}`;
    const args = ['run', '-d', '--name', name, '--label', `tessera.node=${node}`, ...podmanFlags];
    const t0 = performance.now();
    const code = await podmanToLog([...args, image, 'sleep', '600'], join(root, `${name}.log`));
    const ms = performance.now() - t0;
    if (code !== 0) throw new Error(`podman run -d exited ${code}; see ${join(root, `${name}.log`)}`);
    await podmanOk(['rm', '--force', '--time', '0', name]);
    return ms;
  };
  const existsCheck = async (): Promise<number> => {
    const t0 = performance.now();
    const r = await podman(['image', 'exists', image]);
    if (r.exitCode !== 0) throw new Error(`podman image exists ${image} exited ${r.exitCode}`);
    return performance.now() - t0;
  };
  try {
    // Warm-up pair: page cache, podman's first store open, the runner's first checkpoint write.
    await agentStart(-1);
    await podmanStart(-1);
    for (let i = 0; i < runs; i++) {
      // Alternate who goes first, so neither always follows the other's cleanup.
      if (i % 2 === 0) {
        agentMs.push(await agentStart(i));
        podmanMs.push(await podmanStart(i));
      } else {
        podmanMs.push(await podmanStart(i));
        agentMs.push(await agentStart(i));
      }
      existsMs.push(await existsCheck());
    }
  } finally {
    runner.close();
    await removeNodeContainers(node);
    removeNodeCgroups(node);
    rmSync(root, { recursive: true, force: true });
  }
  return { agentMs, createdMs, podmanMs, existsMs, podmanFlags };
}

/** What the measured agent worker is told, as JSON on its command line. */
interface WorkerConfig {
  runtime: 'container' | 'process';
  node: string;
  dataDir: string;
  simStateDir: string;
  podRoot: string;
  pods: number;
  image: string;
}

/**
 * The measured agent: what `tessera agent --gpu sim --sim-gpus 1xH100-80GB --runtime <kind>
 * --sample-interval 1s --port 0 --pods FILE` does (agent/main.ts runAgentMain), with pods that carry
 * an image. SIGTERM stops its pods, then the agent.
 */
async function agentWorker(cfg: WorkerConfig): Promise<void> {
  // Errors only: its warnings (no uid range, no catatonit) are about this bench's setup, not its figures.
  const log = createLogger({ stream: process.stderr, level: 'error' });
  const opened = await openDriver({
    kind: 'sim',
    simGpus: '1xH100-80GB',
    simStateDir: cfg.simStateDir,
    createSim: true,
    dataDir: cfg.dataDir,
  });
  if (!opened.ok) throw new Error(opened.error.message);
  process.env.PATH = `${SIM_TOOLS.binDir}${delimiter}${process.env.PATH ?? ''}`;
  const simStateDir = opened.value.simStateDir ?? cfg.simStateDir;
  const rt = createRuntime(
    {
      kind: cfg.runtime,
      podRoot: cfg.podRoot,
      uidRange: null,
      cgroupParent: `tessera/${cfg.node}`,
      container: { nodeName: cfg.node, simStateDir, ulimits: ULIMITS },
    },
    log,
  );
  if (!rt.ok) throw new Error(rt.error.message);
  const started = await createAgent({
    dataDir: cfg.dataDir,
    driver: opened.value.driver,
    runtime: rt.value.runtime,
    sampleIntervalMs: 1000,
    port: 0,
    simStateDir,
    log,
  });
  if (!started.ok) throw new Error(started.error.message);
  const agent = started.value;
  const ids: string[] = [];
  for (let i = 0; i < cfg.pods; i++) {
    const spec = sleepSpec(`${cfg.runtime}-${i}`, cfg.runtime === 'container' ? cfg.image : undefined);
    const r = agent.startPod(spec);
    if (!r.ok) throw new Error(r.error.message);
    ids.push(spec.podId);
  }
  process.once('SIGTERM', () => {
    void (async () => {
      await Promise.all(ids.map((id) => agent.stopPod(id, 'bench done', 0)));
      await agent.close();
      process.exit(0);
    })();
  });
}

/** USER_HZ: Linux reports 100 on every architecture we run on. */
const CLOCK_TICKS_PER_S = 100;

interface Usage {
  runtime: 'container' | 'process';
  pods: number;
  toAllRunningMs: number;
  rssMeanMiB: number;
  rssMaxMiB: number;
  cpuPct: number;
  samples: number;
}

/** Waits until `check` gives non-null, polling every 100 ms. */
async function waitFor<T>(what: string, check: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => null);
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** Part 2: an agent process running `pods` pods on `runtime`, measured for `windowS` once all run. */
async function agentUsage(
  runtime: 'container' | 'process',
  image: string,
  o: ContainersBenchOptions,
): Promise<Usage> {
  const root = mkdtempSync(join(tmpdir(), 'tessera-bench-ctr-agent-'));
  const cfg: WorkerConfig = {
    runtime,
    node: `ctrbench-${runtime}-${process.pid}`,
    dataDir: join(root, 'data'),
    simStateDir: join(root, 'sim'),
    podRoot: join(root, 'pods'),
    pods: o.pods,
    image,
  };
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--agent-worker', JSON.stringify(cfg)],
    { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const exited = new Promise((r) => child.once('exit', r));
  const pid = child.pid;
  try {
    if (pid === undefined) throw new Error('the agent worker did not start');
    const t0 = performance.now();
    const port = await waitFor(
      'the agent to serve',
      async () => {
        const s = await readStateFile(cfg.dataDir);
        return s.ok && s.value?.pid === pid ? s.value.port : null;
      },
      60_000,
    );
    await waitFor(
      `${o.pods} pods running`,
      async () => {
        const body = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as {
          pods: AgentPodStatus[];
        };
        const ended = body.pods.find((p) => isEnded(p.state));
        if (ended !== undefined) throw new Error(`pod ${ended.podId} ended: ${ended.reason}`);
        const up = body.pods.filter((p) => p.state === 'running' || p.state === 'ready');
        return up.length === o.pods ? true : null;
      },
      120_000,
    );
    const toAllRunningMs = performance.now() - t0;
    await sleep(2000); // the starts' own work is not the steady cost
    const first = procSample(pid);
    if (first === null) throw new Error('the agent worker exited');
    const rss: number[] = [first.rssKiB];
    const w0 = performance.now();
    const deadline = w0 + o.windowS * 1000;
    while (performance.now() < deadline) {
      await sleep(1000);
      const s = procSample(pid);
      if (s === null) throw new Error('the agent worker exited during the window');
      rss.push(s.rssKiB);
    }
    const last = procSample(pid);
    const wallS = (performance.now() - w0) / 1000;
    return {
      runtime,
      pods: o.pods,
      toAllRunningMs,
      rssMeanMiB: rss.reduce((a, b) => a + b, 0) / rss.length / 1024,
      rssMaxMiB: Math.max(...rss) / 1024,
      cpuPct: (100 * ((last?.ticks ?? first.ticks) - first.ticks)) / CLOCK_TICKS_PER_S / wallS,
      samples: rss.length,
    };
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    const killed = await Promise.race([exited.then(() => true), sleep(30_000).then(() => false)]);
    if (!killed) {
      child.kill('SIGKILL');
      await exited;
    }
    if (runtime === 'container') await removeNodeContainers(cfg.node);
    removeNodeCgroups(cfg.node);
    rmSync(root, { recursive: true, force: true });
  }
}

const ms0 = (n: number) => n.toFixed(0);

/** Runs both parts and prints their tables. */
export async function runContainersBench(opts: Partial<ContainersBenchOptions> = {}): Promise<void> {
  const o: ContainersBenchOptions = { ...DEFAULTS, ...opts };
  const unavailable = podmanUnavailableReason();
  if (unavailable !== null) {
    console.log(`containers: ${unavailable}`);
    return;
  }
  const images = await ensureTestImages();
  // IfNotPresent with the image present: no pull. Say so if it is not, rather than time a pull.
  const present = await podman(['image', 'exists', images.busybox]);
  if (present.exitCode !== 0) throw new Error(`${images.busybox} is not in podman's store`);

  const l = await startLatency(images.busybox, o.runs);
  const a = summarize(l.agentMs);
  const p = summarize(l.podmanMs);
  const c = summarize(l.createdMs);
  const x = summarize(l.existsMs);
  const meets = (agent: number, own: number) => agent <= GOAL_FACTOR * own + GOAL_SLACK_MS;
  console.log(
    `\npod start latency: ${images.busybox} sleep, image present (IfNotPresent), ${o.runs} starts of each, alternated, after one warm-up pair\n`,
  );
  console.log(
    renderTable(
      ['start', 'p50 ms', 'p99 ms', 'min ms', 'max ms'],
      [
        ['runner.start -> running', ...[a.p50, a.p99, a.min, a.max].map(ms0)],
        ['  of which: -> container created', ...[c.p50, c.p99, c.min, c.max].map(ms0)],
        ['podman run -d alone', ...[p.p50, p.p99, p.min, p.max].map(ms0)],
        ['podman image exists alone', ...[x.p50, x.p99, x.min, x.max].map(ms0)],
      ],
    ),
  );
  console.log(`podman run -d flags: ${l.podmanFlags.join(' ')}`);
  const verdict = (label: string, agent: number, own: number) =>
    `${label}: ratio ${(agent / own).toFixed(2)}x, goal <= ${GOAL_FACTOR}x + ${GOAL_SLACK_MS} ms = ${ms0(GOAL_FACTOR * own + GOAL_SLACK_MS)} ms: ${meets(agent, own) ? 'met' : 'NOT met'}`;
  console.log(verdict('p50', a.p50, p.p50));
  console.log(verdict('p99', a.p99, p.p99));
  console.log(
    'the runtime checks an image with `podman image exists` once (IfNotPresent), later starts go straight to `podman run -d`; "container created" is when it returned',
  );

  const usage: Usage[] = [];
  for (const rt of ['container', 'process'] as const) usage.push(await agentUsage(rt, images.busybox, o));
  console.log(
    `\nagent with ${o.pods} busybox sleep pods, 1 sim GPU sampled at 1 Hz: /proc every 1 s for ${o.windowS} s, 2 s after all were running\n`,
  );
  console.log(
    renderTable(
      ['pods on', 'pods', 'to all running ms', 'RSS mean MiB', 'RSS max MiB', 'CPU % core', 'samples'],
      usage.map((u) => [
        u.runtime,
        String(u.pods),
        ms0(u.toAllRunningMs),
        u.rssMeanMiB.toFixed(1),
        u.rssMaxMiB.toFixed(1),
        u.cpuPct.toFixed(2),
        String(u.samples),
      ]),
    ),
  );
  console.log(
    '"to all running": the agent process spawned to its /status showing every pod running (start-up included)\n',
  );
}

function numberAfter(argv: readonly string[], flag: string): number | undefined {
  const at = argv.indexOf(flag);
  const v = at >= 0 ? Number(argv[at + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

/** `--runs N`, `--ctr-pods N`, `--ctr-window-s S` from the command line. */
export function parseContainersArgs(argv: readonly string[]): Partial<ContainersBenchOptions> {
  const out: Partial<ContainersBenchOptions> = {};
  const runs = numberAfter(argv, '--runs');
  const pods = numberAfter(argv, '--ctr-pods');
  const windowS = numberAfter(argv, '--ctr-window-s');
  if (runs !== undefined) out.runs = Math.round(runs);
  if (pods !== undefined) out.pods = Math.round(pods);
  if (windowS !== undefined) out.windowS = windowS;
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--agent-worker');
  if (at >= 0) await agentWorker(JSON.parse(process.argv[at + 1] ?? '{}') as WorkerConfig);
  else await runContainersBench(parseContainersArgs(process.argv.slice(2)));
}
