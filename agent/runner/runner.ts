/**
 * The runner (docs/architecture.md §4): starts each assigned pod through a `PodRuntime` (a host
 * process tree in its own cgroup, or a container), reports its life through `onStatus`, stops it with
 * SIGTERM / grace / SIGKILL to every process of the pod, freezes it for time-slicing, and keeps a
 * durable checkpoint of each pod's runtime ref so a restarted agent adopts the pods still running
 * (pods.ts holds the per-pod mechanics). The runtime knows how to run one pod; the table, epochs,
 * lifecycle, readiness, logs and the checkpoint are the runner's.
 *
 * Pods outlive the agent by design: stdout/stderr go to log files the runner opens and the runtime
 * hands the pod, never to pipes to the agent. Under systemd the agent's unit needs
 * `KillMode=process`, or stopping the agent would kill its pods with it.
 */
import { mkdirSync, statSync } from 'node:fs';
import { err, ok, type Result, tesseraError } from '../../common/errors.ts';
import { createLogger, type Logger } from '../../common/log.ts';
import { type DefaultsOf, type WithDefaults, withDefaults } from '../../common/options.ts';
import type { PodRuntime, RuntimeRef } from '../runtime/types.ts';
import { type CheckpointFs, checkpointPath, readCheckpoint } from './checkpoint.ts';
import { inheritedEnv, type NodeEnvInfo } from './env.ts';
import { isEnded } from './lifecycle.ts';
import { DEFAULT_LOG_ROTATION, type LogRotation } from './logs.ts';
import {
  createPodTable,
  type PodEntry,
  type PodRuntimeEvent,
  type PodTable,
  type PodTableConfig,
  REASON_EXITED_ADOPTED,
  REASON_EXITED_WHILE_DOWN,
} from './pods.ts';

export {
  type PodRuntimeEvent,
  podDirOf,
  REASON_EXITED_ADOPTED,
  REASON_EXITED_WHILE_DOWN,
  REASON_NOT_RECORDED,
} from './pods.ts';

import { conflict, invalid, notFound, refusal } from './admission.ts';
import { runCheck } from './probe-check.ts';
import { readProcStat } from './proc.ts';
import { DEFAULT_READINESS } from './readiness.ts';
import type { PodSpec, PodStatus, ReadinessSpec } from './types.ts';

/** Options of `createRunner`; durations in ms, defaults given per field. */
export interface RunnerOptions {
  /** The agent's data dir: the checkpoint and `pods/<podId>/` (logs, default working dir) live here. */
  dataDir: string;
  node: NodeEnvInfo;
  /** What starts and controls each pod's processes (agent/runtime/). */
  runtime: PodRuntime;
  onStatus: (status: PodStatus) => void;
  /** A runtime's progress while it starts a pod (image pulls, container created); default none. Also noted in the pod's events log. */
  onEvent?: (event: PodRuntimeEvent) => void;
  /** Base environment under every pod's; default the agent's PATH, HOME, LANG, ... (`inheritedEnv`). */
  env?: Readonly<Record<string, string>>;
  /**
   * Node-level variables the agent sets for every pod, such as `TESSERA_SIM_STATE` (where the sim
   * backend's GPUs live); default none. The reserved-name filter (`TESSERA_*`, `CUDA_VISIBLE_DEVICES`,
   * ...) applies to the spec's env and to `env`, not to these: they are the agent's own. Precedence in
   * `podProcessEnv` (env.ts).
   */
  nodeEnv?: Readonly<Record<string, string>>;
  /** Default readiness for pods whose spec has none; default a stdout line starting with `READY`. */
  readiness?: ReadinessSpec;
  /** Default 10 MiB x 3 per stream. */
  logRotation?: LogRotation;
  /** How often logs are size-checked and scanned for readiness; default 250. */
  logPollMs?: number;
  /** How often a stop looks whether the pod's processes are gone; default 25. */
  stopPollMs?: number;
  /** How long after SIGKILL a stop waits before reporting that processes survived it; default 10000. */
  killWaitMs?: number;
  /** Default `Date.now`. */
  now?: () => number;
  /** Default JSON lines on stderr, `component: 'runner'`. */
  log?: Logger;
  /** For tests of the checkpoint's durability; default node:fs. */
  checkpointFs?: CheckpointFs;
}

/** What `adopt` found in the checkpoint. */
export interface AdoptReport {
  /** Pods still running, now watched by this agent. */
  adopted: PodStatus[];
  /** Pods that ended while the agent was down (`exited`), or whose pid was reused (`lost`). */
  ended: PodStatus[];
}

/** The runner's API: the one the allocator link and enforcement call. */
export interface Runner {
  /**
   * Validates and begins a start; refuses a pod id already running, and any epoch older than one
   * seen (fencing). Answers `starting`: the runtime's launch (maybe an image pull) then makes it
   * `running`, or ends it `exited` with the launch error as its reason.
   */
  start(spec: PodSpec): Result<PodStatus>;
  /** SIGTERM to every process of the pod, `graceSeconds` (default the spec's), SIGKILL; resolves once all are gone. A start under way is aborted. */
  stop(podId: string, reason: string, graceSeconds?: number): Promise<Result<PodStatus>>;
  /** SIGKILL to every process of the pod at once (enforcement); resolves once all are gone. */
  kill(podId: string, reason: string): Promise<Result<PodStatus>>;
  /** Freezes or thaws every process of the pod (time-slicing): the cgroup freezer, else SIGSTOP/SIGCONT. */
  freeze(podId: string, frozen: boolean): Result<void>;
  /** Every pod this runner knows, ended ones included until `forget`. */
  list(): PodStatus[];
  get(podId: string): PodStatus | undefined;
  /**
   * The spec of a pod this runner knows, started here or adopted from the checkpoint (ended ones
   * until `forget`); a copy. Undefined for a pod it does not know.
   */
  specOf(podId: string): PodSpec | undefined;
  /** The pod's live processes, as its runtime finds them: maps GPU processes to pods. */
  pidsOf(podId: string): number[];
  /** Re-attaches to the pods of the checkpoint that are still running (call once, at agent start). */
  adopt(): Promise<Result<AdoptReport>>;
  /** Drops an ended pod from the list and the checkpoint; its epoch stays fenced. */
  forget(podId: string): Result<void>;
  /** The pod's directory: logs under `logs/`, and its working dir unless the spec names one. */
  podDir(podId: string): string;
  /** Stops watching without touching any pod, as an agent exit would; pods keep running. */
  close(): void;
}

/** The defaults of `RunnerOptions`, as its fields document them. */
const RUNNER_DEFAULTS = {
  onEvent: () => {},
  nodeEnv: {},
  logRotation: DEFAULT_LOG_ROTATION,
  logPollMs: 250,
  stopPollMs: 25,
  killWaitMs: 10_000,
  now: Date.now,
} as const satisfies DefaultsOf<RunnerOptions>;

/** `RunnerOptions` complete: every default filled in. */
export type ResolvedRunnerOptions = WithDefaults<RunnerOptions, typeof RUNNER_DEFAULTS> & {
  env: Readonly<Record<string, string>>;
  log: Logger;
};

/** Fills in every default of `opts`: done once, where the runner is created. */
export function resolveRunnerOptions(opts: RunnerOptions): ResolvedRunnerOptions {
  return {
    ...withDefaults(opts, RUNNER_DEFAULTS),
    env: opts.env ?? inheritedEnv(),
    log: opts.log ?? createLogger({ stream: process.stderr, fields: { component: 'runner' } }),
  };
}

/** Creates a runner over `opts.dataDir`; call `adopt()` first when the agent restarts. */
export function createRunner(options: RunnerOptions): Runner {
  const opts = resolveRunnerOptions(options);
  const { now, log, stopPollMs, killWaitMs, runtime } = opts;
  const config: PodTableConfig = {
    dataDir: opts.dataDir,
    runtime,
    node: opts.node,
    baseEnv: opts.env,
    nodeEnv: opts.nodeEnv,
    readiness: { ...DEFAULT_READINESS, ...opts.readiness },
    probeCheck: runCheck,
    rotation: opts.logRotation,
    now,
    log,
    onStatus: opts.onStatus,
    onEvent: opts.onEvent,
    checkpointPath: checkpointPath(opts.dataDir),
    checkpointFs: opts.checkpointFs,
  };
  const table: PodTable = createPodTable(config);
  let closed = false;

  const logTimer = setInterval(() => table.pollLogs(), opts.logPollMs);
  // The agent must be free to exit while pods run: timers never hold its event loop open.
  logTimer.unref();

  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  /** Polls until the pod has no live process, `ms` passes, or the runner closes (an agent exit). */
  const waitGone = async (ref: RuntimeRef, ms: number): Promise<'gone' | 'timeout' | 'closed'> => {
    // A monotonic clock, not `now`: an injected or stepped wall clock must not stretch a grace period.
    const deadline = performance.now() + ms;
    for (;;) {
      if (!runtime.alive(ref)) return 'gone';
      if (closed) return 'closed';
      if (performance.now() >= deadline) return 'timeout';
      await sleep(Math.min(stopPollMs, Math.max(1, deadline - performance.now())));
    }
  };

  /** A stop cut short by `close()`: the pod stays `stopping` in the checkpoint for the next agent. */
  const closedDuring = (e: PodEntry): Result<never> =>
    err(
      tesseraError(
        'TESSERA_E_CONFLICT',
        `pod ${e.spec.podId}: the runner closed during the stop; the next agent finishes it`,
        { context: { podId: e.spec.podId } },
      ),
    );

  /** After its processes are gone: our child's exit reports the code; an adopted pod ends here. */
  const settle = async (e: PodEntry): Promise<Result<PodStatus>> => {
    if (e.status.adopted) table.finish(e, { exitCode: null, signal: null, reason: REASON_EXITED_ADOPTED });
    await e.exited;
    return ok({ ...e.status });
  };

  const survivors = (e: PodEntry, ref: RuntimeRef, waitedMs: number): Result<never> => {
    const states = runtime
      .pids(ref)
      .map((p) => `${p}:${readProcStat(p)?.state ?? '?'}`)
      .join(', ');
    return err(
      tesseraError(
        'TESSERA_E_INTERNAL',
        `pod ${e.spec.podId}: processes ${states} survived SIGKILL for ${waitedMs} ms (state D is uninterruptible I/O, often a hung GPU driver call)`,
        { context: { podId: e.spec.podId } },
      ),
    );
  };

  /** SIGKILL to the pod, then wait until its processes are gone and its end is reported. */
  const killAndSettle = async (e: PodEntry, ref: RuntimeRef): Promise<Result<PodStatus>> => {
    runtime.signal(ref, 'SIGKILL');
    const killed = await waitGone(ref, killWaitMs);
    if (killed === 'closed') return closedDuring(e);
    if (killed === 'timeout') return survivors(e, ref, killWaitMs);
    return settle(e);
  };

  /**
   * A pod stopped while its runtime still starts it: the start is aborted. If the runtime started
   * it anyway, its ref; else null, and the pod has ended with the stop's reason.
   */
  const abortStart = async (e: PodEntry): Promise<RuntimeRef | null> => {
    e.abort?.abort();
    await e.launched;
    return e.ref;
  };

  const lookup = (podId: string): Result<PodEntry> => {
    if (closed) return err(tesseraError('TESSERA_E_CONFLICT', `runner is closed; pod ${podId} not touched`));
    const e = table.get(podId);
    return e === undefined ? notFound(podId) : ok(e);
  };

  const runner: Runner = {
    start(spec) {
      if (closed)
        return err(tesseraError('TESSERA_E_CONFLICT', `runner is closed; pod ${spec.podId} not started`));
      const refused = refusal(spec, table);
      if (refused !== null) return refused;
      if (spec.workingDir !== undefined) {
        try {
          if (!statSync(spec.workingDir).isDirectory())
            return invalid(spec.podId, 'workingDir', `working dir ${spec.workingDir} is not a directory`);
        } catch (x) {
          return invalid(
            spec.podId,
            'workingDir',
            `working dir ${spec.workingDir} is not usable: ${(x as Error).message}`,
          );
        }
      }
      try {
        mkdirSync(table.podDir(spec.podId), { recursive: true, mode: 0o700 });
      } catch (x) {
        return err(
          tesseraError(
            'TESSERA_E_INTERNAL',
            `pod ${spec.podId}: cannot create its dir: ${(x as Error).message}`,
          ),
        );
      }
      return table.start(spec);
    },

    async stop(podId, reason, graceSeconds) {
      const found = lookup(podId);
      if (!found.ok) return found;
      const e = found.value;
      if (isEnded(e.status.state)) return ok({ ...e.status });
      if (e.stopping !== null) return e.stopping;
      const graceMs = Math.max(0, (graceSeconds ?? e.spec.graceSeconds) * 1000);
      e.stopping = (async () => {
        table.beginStop(e, reason);
        const ref = e.ref ?? (await abortStart(e));
        if (ref === null) {
          await e.exited;
          return ok({ ...e.status });
        }
        table.note(e, `stop (${reason}): SIGTERM to every process of the pod, grace ${graceMs} ms`);
        runtime.signal(ref, 'SIGTERM');
        // A pod frozen by time-slicing handles SIGTERM only once thawed.
        runtime.freeze(ref, false);
        const graceful = await waitGone(ref, graceMs);
        if (graceful === 'closed') return closedDuring(e);
        if (graceful === 'gone') return settle(e);
        table.note(e, `grace over: SIGKILL to every process of the pod: ${runtime.pids(ref).join(' ')}`);
        return killAndSettle(e, ref);
      })();
      return e.stopping;
    },

    async kill(podId, reason) {
      const found = lookup(podId);
      if (!found.ok) return found;
      const e = found.value;
      if (isEnded(e.status.state)) return ok({ ...e.status });
      // The kill's reason (a GPU OOM, a reclaim) is why the pod died, even over a stop in progress.
      table.beginStop(e, reason, true);
      const ref = e.ref ?? (await abortStart(e));
      if (ref === null) {
        await e.exited;
        return ok({ ...e.status });
      }
      table.note(e, `kill (${reason}): SIGKILL to every process of the pod: ${runtime.pids(ref).join(' ')}`);
      return killAndSettle(e, ref);
    },

    freeze(podId, frozen) {
      const found = lookup(podId);
      if (!found.ok) return found;
      const e = found.value;
      const state = e.status.state;
      const verb = frozen ? 'freeze' : 'thaw';
      if (isEnded(state) || (frozen && state === 'stopping')) {
        return conflict(podId, `cannot ${verb}: the pod is ${state}`, {});
      }
      if (e.ref === null) return conflict(podId, `cannot ${verb}: the pod is still starting`, {});
      return runtime.freeze(e.ref, frozen);
    },

    list: () => table.all().map((e) => ({ ...e.status })),
    get(podId) {
      const e = table.get(podId);
      return e === undefined ? undefined : { ...e.status };
    },
    specOf(podId) {
      const e = table.get(podId);
      // A copy: the entry's spec is what the checkpoint records, and no caller may change that.
      return e === undefined ? undefined : structuredClone(e.spec);
    },
    pidsOf(podId) {
      const e = table.get(podId);
      if (e === undefined || e.ref === null || isEnded(e.status.state)) return [];
      return runtime.pids(e.ref);
    },

    async adopt() {
      if (closed) return err(tesseraError('TESSERA_E_CONFLICT', 'runner is closed; nothing adopted'));
      const read = readCheckpoint(config.checkpointPath, { io: opts.checkpointFs, now });
      if (!read.ok) {
        log.error('runner checkpoint unreadable; no pod adopted', { error: read.error.message });
        return read;
      }
      const report = await table.adoptFrom(read.value, REASON_EXITED_WHILE_DOWN);
      // A pod the old agent was stopping when it died is stopped again, grace restarting.
      for (const s of report.adopted) {
        if (s.state !== 'stopping') continue;
        const why = table.get(s.podId)?.endReason ?? 'stop resumed after agent restart';
        void runner.stop(s.podId, why);
      }
      return ok(report);
    },

    forget(podId) {
      const e = table.get(podId);
      if (e === undefined) return notFound(podId);
      if (!isEnded(e.status.state))
        return conflict(podId, `cannot forget a pod that is ${e.status.state}`, {});
      return table.forget(podId);
    },

    podDir: (podId) => table.podDir(podId),

    close() {
      closed = true;
      clearInterval(logTimer);
      table.close();
    },
  };
  return runner;
}
