/** Shared fixtures for the runner tests: temp data dirs, specs, a node, waiting, and cleanup. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeEnvInfo } from '../../../agent/runner/env.ts';
import { signalGroup } from '../../../agent/runner/proc.ts';
import { createRunner, type Runner, type RunnerOptions } from '../../../agent/runner/runner.ts';
import type { PodSpec, PodStatus } from '../../../agent/runner/types.ts';
import type { Result, TesseraError } from '../../../common/errors.ts';
import { createLogger, type Logger } from '../../../common/log.ts';
import { until } from '../../helpers/wait.ts';
import { type TestRuntime, testRuntime } from '../runtime/helpers.ts';

export const GPU0 = 'GPU-00000000-aaaa-bbbb-cccc-000000000000';
export const GPU1 = 'GPU-11111111-aaaa-bbbb-cccc-111111111111';

/** A node with two 80 GiB GPUs and no limiter installed. */
export const NODE: NodeEnvInfo = {
  gpus: [
    { uuid: GPU0, index: 0, memoryMiB: 81920 },
    { uuid: GPU1, index: 1, memoryMiB: 81920 },
  ],
  hamiCore: false,
};

/** The node executable, by absolute path so pods do not depend on PATH. */
export const NODE_BIN = process.execPath;

/** A pod spec with sensible defaults; `command` is required. */
export function podSpec(partial: Partial<PodSpec> & Pick<PodSpec, 'command'>): PodSpec {
  return {
    podId: 'p1',
    workload: 'train',
    project: 'team-a',
    epoch: 1,
    env: {},
    grants: [],
    priority: 50,
    graceSeconds: 0.3,
    ...partial,
  };
}

/** The value of an ok result, or a thrown error naming the failure. */
export function value<T>(r: Result<T>): T {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.value;
}

/** The error of a failed result. */
export function failure<T>(r: Result<T>): TesseraError {
  if (r.ok) throw new Error(`expected an error, got ${JSON.stringify(r.value)}`);
  return r.error;
}

/** The status of a started pod once its runtime has launched it (`running`, or ended if the launch failed). */
export async function launched(runner: Runner, r: Result<PodStatus>): Promise<PodStatus> {
  const s = value(r);
  await until(() => runner.get(s.podId)?.state !== 'starting', `pod ${s.podId} launched`);
  const now = runner.get(s.podId);
  if (now === undefined) throw new Error(`pod ${s.podId} vanished`);
  return now;
}

/** A silent logger that keeps its lines for assertions. */
export function memoryLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger({ stream: { write: (l: string) => lines.push(l) } }), lines };
}

/** A runner harness: a temp data dir, the statuses it reported, and cleanup of every pod it started. */
export interface Harness {
  dataDir: string;
  /** The process runtime every runner of the harness shares, as one agent's restarts would. */
  rt: TestRuntime;
  runner: Runner;
  statuses: PodStatus[];
  /** Another runner over the same data dir, as a restarted agent would be. */
  restart(opts?: Partial<RunnerOptions>): { runner: Runner; statuses: PodStatus[] };
  /** Groups to SIGKILL at cleanup, for pods started outside the harness's runner. */
  track(pgid: number): void;
  cleanup(): Promise<void>;
}

/** Creates a harness; call `cleanup()` in afterEach. */
export function harness(opts: Partial<RunnerOptions> = {}): Harness {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-runner-'));
  const rt = testRuntime();
  const runners: Runner[] = [];
  const groups = new Set<number>();
  const make = (extra: Partial<RunnerOptions>): { runner: Runner; statuses: PodStatus[] } => {
    const statuses: PodStatus[] = [];
    const runner = createRunner({
      dataDir,
      runtime: rt.runtime,
      node: NODE,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      onStatus: (s) => {
        statuses.push(s);
        // Only pods this runner runs: a `lost` status names a pid that belongs to someone else.
        if (s.pid !== null && (s.state === 'running' || s.state === 'ready')) groups.add(s.pid);
      },
      logPollMs: 20,
      stopPollMs: 10,
      killWaitMs: 3000,
      log: memoryLogger().log,
      ...opts,
      ...extra,
    });
    runners.push(runner);
    return { runner, statuses };
  };
  const first = make({});
  return {
    dataDir,
    rt,
    runner: first.runner,
    statuses: first.statuses,
    restart: (extra = {}) => make(extra),
    track: (pgid) => groups.add(pgid),
    async cleanup() {
      for (const r of runners) r.close();
      for (const g of groups) signalGroup(g, 'SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
      await rt.cleanup();
    },
  };
}
