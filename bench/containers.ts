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
 *    The agent runs as `--pods FILE` would run it (sim driver, runtime, createAgent, startPod), as a
 *    worker process (bench/containers-usage.ts).
 *
 * Every container is removed afterwards, by the `tessera.node` label of the bench's node names.
 *
 *   npx tsx bench/containers.ts [--runs 20] [--ctr-pods 8] [--ctr-window-s 30]
 *   (or npm run bench -- --only containers)
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRunner, isEnded, type PodStatus } from '../agent/runner/index.ts';
import { createContainerRuntime } from '../agent/runtime/container/index.ts';
import { normaliseOptions } from '../agent/runtime/container/options.ts';
import { renderTable } from '../sim/report.ts';
import { ensureTestImages } from '../test/helpers/images.ts';
import { PODMAN_RUN_LIMITS, podman, podmanOk, podmanUnavailableReason } from '../test/helpers/podman.ts';
import { quiet, removeNodeCgroups, removeNodeContainers, sleepSpec, ULIMITS } from './containers-common.ts';
import { agentUsage, type Usage } from './containers-usage.ts';
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
const GOAL_FACTOR = 1.2;
const GOAL_SLACK_MS = 100;

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
  await runContainersBench(parseContainersArgs(process.argv.slice(2)));
}
