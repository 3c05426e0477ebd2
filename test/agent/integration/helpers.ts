/**
 * Shared by the agent's integration tests: a sim node (state dir + data dir of its own), an agent
 * over it, pod specs running the sim's test workload, polling, and cleanup of every process started.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Agent, type AgentOptions, createAgent } from '../../../agent/agent.ts';
import type { AgentEvent } from '../../../agent/api.ts';
import type { GpuDriver } from '../../../agent/gpu/driver.ts';
import type { HostFacts } from '../../../agent/gpu/host.ts';
import { createNvidiaDriver } from '../../../agent/gpu/nvidia.ts';
import { initSimState, parseSimGpus, SIM_TOOLS, type SimState, simEnv } from '../../../agent/gpu/sim/spec.ts';
import { logPath } from '../../../agent/runner/logs.ts';
import { podDirOf } from '../../../agent/runner/pods.ts';
import type { PodSpec } from '../../../agent/runner/types.ts';
import { createLogger } from '../../../common/log.ts';
import { GiveUp, until } from '../../helpers/wait.ts';
import { type TestRuntime, testRuntime, testUidRange } from '../runtime/helpers.ts';

/** Fixed host facts: the real ones say nothing these tests check. */
export const HOST: HostFacts = {
  hostname: 'test-node',
  os: 'Linux',
  kernel: '6.0',
  arch: 'x64',
  cpuModel: 'test',
  cpuCores: 2,
  cpuPhysicalCores: 2,
  memoryTotalMiB: 8192,
};

/** A sim node: temp dirs, its GPUs and a driver over them. */
export interface SimNode {
  dataDir: string;
  simDir: string;
  state: SimState;
  driver: GpuDriver;
  /** The process runtime its agents run pods with: a uid per pod where the tests run as root. */
  rt: TestRuntime;
  uuid(index: number): string;
  /** Pids to SIGKILL at cleanup (pods and agents outlive the test's agent by design). */
  track(pid: number | null | undefined): void;
  cleanup(): Promise<void>;
}

/** Makes a sim node with `spec` GPUs (e.g. `2xH100-80GB`). */
export async function simNode(spec = '1xH100-80GB'): Promise<SimNode> {
  const root = mkdtempSync(join(tmpdir(), 'tessera-agent-'));
  // Pods run as their own uids and must reach the sim state below it (the agent opens the state dir itself).
  chmodSync(root, 0o711);
  const simDir = join(root, 'sim');
  const parsed = parseSimGpus(spec);
  if (!parsed.ok) throw new Error(parsed.error.message);
  const state = await initSimState(simDir, parsed.value);
  const driver = createNvidiaDriver({
    kind: 'sim',
    nvidiaSmi: SIM_TOOLS.nvidiaSmi,
    cudaCheckpoint: SIM_TOOLS.cudaCheckpoint,
    env: simEnv(simDir),
  });
  const pids = new Set<number>();
  const rt = testRuntime({ uidRange: testUidRange() });
  return {
    dataDir: join(root, 'data'),
    simDir,
    state,
    driver,
    rt,
    uuid: (i) => state.gpus[i]!.uuid,
    track: (pid) => {
      if (pid !== null && pid !== undefined) pids.add(pid);
    },
    async cleanup() {
      for (const pid of pids) {
        for (const target of [-pid, pid]) {
          try {
            process.kill(target, 'SIGCONT');
            process.kill(target, 'SIGKILL');
          } catch {
            // Already gone.
          }
        }
      }
      await rt.cleanup();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Starts an agent on `node` with a short sampling interval and a quiet logger. */
export async function startAgent(node: SimNode, opts: Partial<AgentOptions> = {}): Promise<Agent> {
  const r = await createAgent({
    dataDir: node.dataDir,
    driver: node.driver,
    runtime: node.rt.runtime,
    simStateDir: node.simDir,
    sampleIntervalMs: 100,
    host: HOST,
    log: createLogger({ stream: { write: () => {} } }),
    ...opts,
  });
  if (!r.ok) throw new Error(`agent did not start: ${r.error.message}`);
  return r.value;
}

/** A pod running the sim workload with `args`, granted `memoryMiB` (request) up to `limitMiB` on `uuid`. */
export function workloadPod(
  podId: string,
  uuid: string,
  args: string[],
  memoryMiB: number,
  limitMiB = memoryMiB,
  gpuMilli = 500,
): PodSpec {
  return {
    podId,
    workload: podId,
    project: 'team-a',
    epoch: 1,
    command: [process.execPath, SIM_TOOLS.workload, ...args],
    env: {},
    grants: [{ uuid, gpuMilli, memoryMiB, memoryLimitMiB: limitMiB }],
    priority: 50,
    graceSeconds: 1,
  };
}

/** Starts `spec` on `agent` and waits until its runtime has launched it; its pid, tracked on `node` for cleanup. */
export async function startedPid(node: SimNode, agent: Agent, spec: PodSpec): Promise<number> {
  const r = agent.startPod(spec);
  if (!r.ok) throw new Error(r.error.message);
  const pid = await until(
    () => {
      const s = agent.status().pods.find((p) => p.podId === spec.podId);
      if (s?.state === 'exited') throw new GiveUp(`pod ${spec.podId} ended at start: ${s.reason}`);
      return s?.pid;
    },
    `pod ${spec.podId} launched`,
    5000,
  );
  node.track(pid);
  return pid;
}

/** The first event of `kind` for `podId`, once it has happened. */
export function eventOf(agent: Agent, kind: AgentEvent['kind'], podId: string): AgentEvent | undefined {
  return agent.events().find((e) => e.kind === kind && e.podId === podId);
}

/** A pod's stdout so far. */
export function stdoutOf(node: SimNode, podId: string): string {
  try {
    return readFileSync(logPath(podDirOf(node.dataDir, podId), 'stdout'), 'utf8');
  } catch {
    return '';
  }
}

/** Whether a process exists (and is not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
