/**
 * The link benchmark: many simulated agents over real websockets, each with 8 GPUs and a
 * ~2 KiB Status every second, against the allocator run in this process, then the same fleet
 * against a bare `ws` server (bench/link-bare.ts) in its own process, never both at once. A
 * benchmark, not a test: it prints figures against targets and never fails.
 *
 *   npm run bench -- --only link [--agents 1000,2500,5000,10000] [--window-s 20] [--pods 2000]
 *     [--full-every 10 (1: no delta Statuses)] [--join-timeout-s 120] [--profile-dir DIR]
 *
 * Per step: agents joined, status delay p50/p99 (applied by the allocator - the agent's atMs, as
 * the bare server measures receipt), Status -> Ack round trip p50/p99 for the Statuses acked,
 * commit -> StartPod receipt p50/p99 (`onPlanCommitted` to the fleet's receipt), allocator CPU (% of one core, process.cpuUsage over a steady window) and RSS, the bare
 * server's CPU and the ratio (target <= 1.5x). The ramp stops at the first step that does not keep up.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { wirePodId } from '../allocator/link/pod-id.ts';
import { DEFAULT_FULL_STATUS_EVERY } from '../allocator/link/server.ts';
import type { RunningAllocator } from '../allocator/service/types.ts';
import { ackAfterMs, DEFAULT_LEASE_MS } from '../common/disconnect.ts';
import { createLogger } from '../common/log.ts';
import type { BareCommand, BareReply } from './link-bare.ts';
import {
  ask,
  broadcast,
  child,
  HEARTBEAT_MS,
  loadAllocator,
  openFileLimit,
  reports,
  type StartAllocator,
  startFleets,
  startProfile,
  stopFleets,
  stopProfile,
} from './link-procs.ts';
import { emptyResult, keepsUp, type LinkStepResult, percentile, printLinkTable } from './link-report.ts';

export type { LinkStepResult } from './link-report.ts';

/** Options of one run; every field has a default. */
export interface LinkBenchOptions {
  /** Agent counts of the ramp. Default 1000, 2500, 5000, 10000. */
  agents?: readonly number[];
  /** Steady window CPU and latencies are measured over, after a warm-up. Default 20 s, warm-up 3 s. */
  windowS?: number;
  warmS?: number;
  /** Single-GPU training pods submitted to time StartPod delivery. Default 2000 (at most one GPU per 4). */
  pods?: number;
  /** Status size to pad to. Default 2048 bytes. */
  frameBytes?: number;
  /** Agents not joined this long after the fleets start count as failed. Default 120 s. */
  joinTimeoutS?: number;
  /** Agents per fleet process. Default 2500. */
  perFleet?: number;
  /** Run the allocator / the bare server side. Default both. */
  allocator?: boolean;
  bare?: boolean;
  /** Where to write a CPU profile of this process over each allocator window; '' for none (default). */
  profileDir?: string;
  /**
   * Agents send a full Status every this many and deltas between, as the allocator's Welcome offers
   * (the bare server gets the same frames); 1 sends every Status full, as agents before deltas did.
   * Default DEFAULT_FULL_STATUS_EVERY.
   */
  fullStatusEvery?: number;
  /** The allocator's node lease; agents ask for an Ack after a quarter of it / 2. Default the product's. */
  leaseMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** POSTs JSON to the allocator's API as the admin user; throws with the body on anything but 201. */
async function post(base: string, token: string, path: string, body: object): Promise<void> {
  const res = await fetch(`${base}/api/v1${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
}

/** One step against the allocator in this process; fills the allocator half of the result. */
async function allocatorStep(
  start: StartAllocator,
  agents: number,
  o: Required<LinkBenchOptions>,
  r: LinkStepResult,
): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-bench-link-'));
  const committed = new Map<string, number>();
  // Status delay measured as the bare server measures it (receipt - the agent's atMs), in the window.
  const received: number[] = [];
  let windowOpen = false;
  // Warnings are part of the allocator's cost, so they are formatted, then counted, not printed.
  const sink = { write: () => (r.warnLines += 1) };
  const alloc = await start({
    dataDir,
    port: 0,
    host: '127.0.0.1',
    heartbeatMs: HEARTBEAT_MS,
    leaseMs: o.leaseMs,
    log: createLogger({ stream: sink, level: 'warn' }),
    onAgentStatus: (_node, atMs) => {
      if (windowOpen) received.push(Date.now() - atMs);
    },
    onPlanCommitted: (atMs, starts) => {
      for (const s of starts) committed.set(wirePodId(s.workload, s.pod), atMs);
    },
  });
  let fleets: ChildProcess[] = [];
  try {
    const token = readFileSync(alloc.joinTokenFile, 'utf8').trim();
    const url = `${alloc.url.replace(/^http/, 'ws')}/api/v1/agents/connect`;
    const started = await startFleets(
      url,
      token,
      agents,
      o.perFleet,
      o.frameBytes,
      true,
      o.joinTimeoutS * 1000,
      o.fullStatusEvery,
    );
    r.joinS = started.joinS;
    fleets = started.fleets;
    r.joined = started.joined.reduce((s, j) => s + j.joined, 0);
    r.statusBytes = started.joined[0]?.statusBytes ?? 0;
    await sleep(o.warmS * 1000);
    const loop = monitorEventLoopDelay({ resolution: 10 });
    const frames0 = alloc.stats().link.statusFrames;
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    loop.enable();
    const cycles0 = alloc.stats().cycles;
    const cycleWatch = setInterval(() => {
      r.cycleMsMax = Math.max(r.cycleMsMax, alloc.stats().lastCycleMs);
    }, 50);
    const profiler = o.profileDir === '' ? null : await startProfile();
    broadcast(fleets, { type: 'window-start' });
    windowOpen = true;
    await sleep(o.windowS * 1000);
    windowOpen = false;
    broadcast(fleets, { type: 'window-end' });
    const cpu = process.cpuUsage(cpu0);
    loop.disable();
    clearInterval(cycleWatch);
    r.cycles = alloc.stats().cycles - cycles0;
    if (profiler !== null) await stopProfile(profiler, join(o.profileDir, `link-${agents}.cpuprofile`));
    r.cpuPct = (100 * (cpu.user + cpu.system)) / 1000 / (performance.now() - wall0);
    r.rssMiB = process.memoryUsage().rss / 1024 / 1024;
    r.statusFramesHandled = alloc.stats().link.statusFrames - frames0;
    r.loopDelayP99Ms = loop.percentile(99) / 1e6;
    // Statuses sent just before the window closed are acked after the link's quiet spell (an Ack
    // covers every earlier seq), and get two seconds beyond it.
    const settleMs = ackAfterMs(HEARTBEAT_MS, o.leaseMs) + 2000;
    await sleep(settleMs);
    const reps = await reports(fleets);
    const lat = reps.flatMap((x) => x.ackLatencyMs);
    r.sent = reps.reduce((s, x) => s + x.sent, 0);
    r.acked = reps.reduce((s, x) => s + x.acked, 0);
    r.statusP50Ms = percentile(received, 50);
    r.statusP99Ms = percentile(received, 99);
    r.acks = lat.length;
    r.ackP50Ms = percentile(lat, 50);
    r.ackP99Ms = percentile(lat, 99);
    r.fleetCpuPct = (100 * reps.reduce((s, x) => s + x.cpuMs, 0)) / (o.windowS * 1000 + settleMs);
    // An allocator still taking the join storm would not answer the API in any useful time.
    if (r.joined === agents)
      await startPodPhase(alloc, fleets, Math.min(o.pods, Math.floor((r.joined * 8) / 4)), committed, r);
  } finally {
    await stopFleets(fleets);
    await alloc.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Submits `pods` single-GPU workloads and times each commit -> StartPod receipt. */
async function startPodPhase(
  alloc: RunningAllocator,
  fleets: readonly ChildProcess[],
  pods: number,
  committed: Map<string, number>,
  r: LinkStepResult,
): Promise<void> {
  const admin = readFileSync(alloc.adminTokenFile, 'utf8').trim();
  await post(alloc.url, admin, '/departments', { name: 'bench-dept' });
  const quota = [{ nodePool: 'default', gpu: Math.max(pods, 1) }];
  await post(alloc.url, admin, '/projects', { name: 'bench', department: 'bench-dept', quotas: quota });
  let next = 0;
  // Submissions wait on the event loop the cycles hold; past a minute the figure is already clear.
  const submitUntil = Date.now() + 60_000;
  const submit = async () => {
    for (let i = next++; i < pods && Date.now() < submitUntil; i = next++) {
      const spec = {
        name: `train-${i}`,
        project: 'bench',
        type: 'training',
        command: ['python', 'train.py'],
      };
      await post(alloc.url, admin, '/workloads', { ...spec, resources: { gpuDevices: 1 } });
    }
  };
  await Promise.all(Array.from({ length: 8 }, submit));
  const received = new Map<string, number>();
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    for (const rep of await reports(fleets)) for (const [id, at] of rep.starts) received.set(id, at);
    if (received.size >= Math.min(pods, next)) break;
    await sleep(1000);
  }
  const delays = [...received].flatMap(([id, at]) => {
    const c = committed.get(id);
    return c === undefined ? [] : [at - c];
  });
  r.startsCommitted = committed.size;
  r.startsReceived = received.size;
  r.startP50Ms = percentile(delays, 50);
  r.startP99Ms = percentile(delays, 99);
}

/** The same fleet against the bare server, in its own process; fills the bare half of the result. */
async function bareStep(agents: number, o: Required<LinkBenchOptions>, r: LinkStepResult): Promise<void> {
  const bare = child('link-bare');
  let fleets: ChildProcess[] = [];
  try {
    const { port } = await ask<Extract<BareReply, { type: 'listening' }>>(bare, 'listening');
    const started = await startFleets(
      `ws://127.0.0.1:${port}/`,
      'bare',
      agents,
      o.perFleet,
      o.frameBytes,
      false,
      o.joinTimeoutS * 1000,
      o.fullStatusEvery,
    );
    fleets = started.fleets;
    if (r.joined === 0) r.joined = started.joined.reduce((s, j) => s + j.joined, 0);
    if (r.statusBytes === 0) r.statusBytes = started.joined[0]?.statusBytes ?? 0;
    await sleep(o.warmS * 1000);
    bare.send({ type: 'window-start' } satisfies BareCommand);
    await sleep(o.windowS * 1000);
    const w = await ask<Extract<BareReply, { type: 'window' }>>(bare, 'window', { type: 'window-end' });
    r.bareCpuPct = (100 * w.cpuMs) / w.wallMs;
    r.bareP50Ms = percentile(w.latencyMs, 50);
    r.bareP99Ms = percentile(w.latencyMs, 99);
    r.bareFrames = w.frames;
  } finally {
    await stopFleets(fleets);
    bare.send({ type: 'stop' } satisfies BareCommand);
    if (bare.exitCode === null) await new Promise((res) => bare.once('exit', res));
  }
}

/** Runs the ramp, prints one row per step and where it stops keeping up; returns the figures. */
export async function runLinkBench(options: LinkBenchOptions = {}): Promise<LinkStepResult[]> {
  const o: Required<LinkBenchOptions> = {
    agents: [1000, 2500, 5000, 10_000],
    windowS: 20,
    warmS: 3,
    pods: 2000,
    frameBytes: 2048,
    perFleet: 2500,
    joinTimeoutS: 120,
    allocator: true,
    bare: true,
    profileDir: '',
    fullStatusEvery: DEFAULT_FULL_STATUS_EVERY,
    leaseMs: DEFAULT_LEASE_MS,
    ...options,
  };
  const start = o.allocator ? await loadAllocator() : null;
  if (o.allocator && start === null)
    console.log('link: allocator side skipped, allocator/main.ts is not there yet');
  const limit = openFileLimit();
  const results: LinkStepResult[] = [];
  let stoppedAt: number | null = null;
  for (const agents of o.agents) {
    if (agents + 256 > limit) {
      console.log(`link: ${agents} agents skipped: ulimit -n is ${limit}; raise it (ulimit -n 65536)`);
      stoppedAt = agents;
      break;
    }
    const r = emptyResult(agents);
    if (start !== null) await allocatorStep(start, agents, o, r);
    if (o.bare) await bareStep(agents, o, r);
    r.keepsUp = keepsUp(r);
    results.push(r);
    console.log(`link: ${JSON.stringify(r)}`);
    if (start !== null && !r.keepsUp) {
      stoppedAt = agents;
      break;
    }
  }
  printLinkTable(results, stoppedAt);
  return results;
}

/** `--agents 1000,5000 --window-s 20 --pods 2000 --frame-bytes 2048` from the bench's argv. */
export function parseLinkArgs(argv: readonly string[]): LinkBenchOptions {
  const o: LinkBenchOptions = {};
  const num = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? Number(argv[i + 1]) : undefined;
  };
  const i = argv.indexOf('--agents');
  if (i >= 0)
    o.agents = (argv[i + 1] ?? '')
      .split(',')
      .map(Number)
      .filter((n) => n > 0);
  const [windowS, pods, frameBytes] = [num('--window-s'), num('--pods'), num('--frame-bytes')];
  const joinTimeoutS = num('--join-timeout-s');
  const fullEvery = num('--full-every');
  if (fullEvery !== undefined) o.fullStatusEvery = fullEvery;
  if (joinTimeoutS !== undefined) o.joinTimeoutS = joinTimeoutS;
  const prof = argv.indexOf('--profile-dir');
  if (prof >= 0) o.profileDir = argv[prof + 1] ?? '';
  if (windowS !== undefined) o.windowS = windowS;
  if (pods !== undefined) o.pods = pods;
  if (frameBytes !== undefined) o.frameBytes = frameBytes;
  return o;
}
