/**
 * Part 2 of the containers benchmark: an agent process running N pods on the container or the
 * process runtime, its RSS and CPU read from /proc once every pod runs. The agent is this file run
 * as a worker (`--agent-worker CONFIG`), as `tessera agent --pods FILE` would run it but with pods
 * that carry an image.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAgent } from '../agent/agent.ts';
import type { AgentPodStatus } from '../agent/api.ts';
import { SIM_TOOLS } from '../agent/gpu/sim/spec.ts';
import { openDriver } from '../agent/main.ts';
import { isEnded } from '../agent/runner/index.ts';
import { createRuntime } from '../agent/runtime/select.ts';
import { readStateFile } from '../agent/state-file.ts';
import { createLogger } from '../common/log.ts';
import { procSample } from './agent.ts';
import { removeNodeCgroups, removeNodeContainers, sleep, sleepSpec, ULIMITS } from './containers-common.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** What part 2 measures for: how many pods, and for how long once all run. */
export interface UsageOptions {
  pods: number;
  windowS: number;
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

export interface Usage {
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
export async function agentUsage(
  runtime: 'container' | 'process',
  image: string,
  o: UsageOptions,
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

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--agent-worker');
  if (at < 0)
    throw new Error('bench/containers-usage.ts is the agent worker of bench/containers.ts: run that');
  await agentWorker(JSON.parse(process.argv[at + 1] ?? '{}') as WorkerConfig);
}
