/**
 * The runner's table of pods and the per-pod mechanics behind runner.ts: starting through the
 * runtime (launch.ts prepares env and logs), state changes through the lifecycle gate, readiness,
 * the end of a pod, the checkpoint, and adoption.
 */
import { ok, type Result, tesseraError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { LaunchedPod, PodEnd, PodRuntime, RuntimeEventKind, RuntimeRef } from '../runtime/types.ts';
import {
  CHECKPOINT_VERSION,
  type CheckpointFs,
  type CheckpointPod,
  type RunnerCheckpoint,
  writeCheckpoint,
} from './checkpoint.ts';
import { endReason, guardFencedPath, readGuardFenced } from './guard-record.ts';
import { closeFd, type LaunchConfig, prepareLaunch } from './launch.ts';
import { canRunStateTransition, isEnded } from './lifecycle.ts';
import { createRotatingLogWriter, logPath } from './logs.ts';
import {
  blankStatus,
  newEntry,
  type PodEntry,
  type PodRuntimeEvent,
  podDirOf,
  REASON_EXITED_ADOPTED,
  REASON_NOT_RECORDED,
} from './pod-entry.ts';
import { type CheckResult, firstCheckDelayMs, startProber } from './probe.ts';
import { readProcStat } from './proc.ts';
import { effectiveReadiness } from './readiness.ts';
import type { PodRunState, PodSpec, PodStatus, ProbeSpec, ReadinessSpec } from './types.ts';
import { createPodLogWatcher } from './watch.ts';

export {
  type PodEntry,
  type PodRuntimeEvent,
  podDirOf,
  REASON_EXITED_ADOPTED,
  REASON_EXITED_WHILE_DOWN,
  REASON_NOT_RECORDED,
} from './pod-entry.ts';

/** What the table needs from the runner's options, normalised. */
export interface PodTableConfig extends LaunchConfig {
  dataDir: string;
  runtime: PodRuntime;
  readiness: ReadinessSpec;
  /** Runs one readiness probe check (probe-check.ts runCheck). */
  probeCheck: (spec: ProbeSpec) => Promise<CheckResult>;
  now: () => number;
  log: Logger;
  onStatus: (status: PodStatus) => void;
  onEvent: (event: PodRuntimeEvent) => void;
  checkpointPath: string;
  checkpointFs: CheckpointFs | undefined;
}

/** The table; see runner.ts for the public meaning of each operation. */
export interface PodTable {
  get(podId: string): PodEntry | undefined;
  all(): PodEntry[];
  live(): PodEntry[];
  epochOf(podId: string): number | undefined;
  podDir(podId: string): string;
  start(spec: PodSpec): Result<PodStatus>;
  beginStop(e: PodEntry, reason: string, override?: boolean): void;
  finish(e: PodEntry, end: PodEnd): void;
  note(e: PodEntry, line: string): void;
  pollLogs(): void;
  adoptFrom(cp: RunnerCheckpoint, reasonDown: string): Promise<{ adopted: PodStatus[]; ended: PodStatus[] }>;
  forget(podId: string): Result<void>;
  close(): void;
}

/** Creates the table over `cfg.dataDir`. */
export function createPodTable(cfg: PodTableConfig): PodTable {
  const pods = new Map<string, PodEntry>();
  // Newest epoch seen per pod id, including forgotten pods: the fencing watermark.
  const epochs = new Map<string, number>();
  let closed = false;
  const { log, now, runtime } = cfg;
  const podDir = (podId: string): string => podDirOf(cfg.dataDir, podId);
  const guardPath = guardFencedPath(cfg.dataDir);
  /** Why a pod ended: the agent's own reason, else the fence guard's if it killed it, else `fallback`. */
  const reasonOf = (spec: PodSpec, own: string | null, fallback: string | null): string | null =>
    endReason(spec, own, own === null ? readGuardFenced(guardPath) : [], fallback);
  /** Why a pod ended while no agent watched it: the guard's reason if it killed it, else `fallback`. */
  const downReason = (rec: CheckpointPod, fallback: string): string =>
    rec.reason === null ? endReason(rec.spec, null, readGuardFenced(guardPath), fallback) : fallback;

  const emit = (e: PodEntry): void => {
    try {
      cfg.onStatus({ ...e.status });
    } catch (x) {
      // A listener's bug must not take the runner's exit handling down with it.
      log.error('onStatus listener threw', { podId: e.spec.podId, error: x });
    }
  };

  const note = (e: PodEntry, line: string): void => {
    try {
      e.events ??= createRotatingLogWriter(logPath(podDir(e.spec.podId), 'events'), cfg.rotation);
      e.events.write(`${new Date(now()).toISOString()} ${line}\n`);
    } catch (x) {
      log.warn('could not write the pod events log', { podId: e.spec.podId, error: x });
    }
  };

  const persist = (): Result<void> => {
    const cp: RunnerCheckpoint = {
      version: CHECKPOINT_VERSION,
      pods: [...pods.values()].map((e) => ({
        spec: e.spec,
        ref: e.ref,
        pid: e.status.pid,
        startTimeTicks: e.status.startTimeTicks,
        startedAtMs: e.status.startedAtMs,
        state: e.status.state,
        exitCode: e.status.exitCode,
        signal: e.status.signal,
        // While it is stopping, the reason it is being ended: a restarted agent finishes that stop.
        reason: e.status.reason ?? e.endReason,
      })),
      epochs: Object.fromEntries(epochs),
    };
    const r = writeCheckpoint(cfg.checkpointPath, cp, cfg.checkpointFs);
    if (!r.ok) log.error('runner checkpoint not written', { error: r.error.message });
    return r;
  };

  const transition = (e: PodEntry, to: PodRunState): boolean => {
    if (!canRunStateTransition(e.status.state, to)) return false;
    e.status.state = to;
    return true;
  };

  const markReady = (e: PodEntry, why: string): void => {
    if (closed || e.status.state !== 'running' || !transition(e, 'ready')) return;
    e.watcher?.stopScanning();
    if (e.readyTimer !== null) clearTimeout(e.readyTimer);
    e.readyTimer = null;
    note(e, `ready (${why})`);
    persist();
    emit(e);
  };

  /** A ready pod whose probe failed its threshold: running, not ready, until a check passes again. */
  const markUnready = (e: PodEntry, why: string): void => {
    if (closed || e.status.state !== 'ready' || !transition(e, 'running')) return;
    note(e, `not ready (${why})`);
    persist();
    emit(e);
  };

  const stopProbing = (e: PodEntry): void => {
    e.prober?.stop();
    e.prober = null;
  };

  /** Starts watching logs and readiness of a running pod (freshly started or adopted). */
  const watch = (e: PodEntry): void => {
    const readiness = effectiveReadiness(e.spec.readiness, cfg.readiness);
    const scanning = e.status.state === 'running' ? readiness.linePrefix : null;
    e.watcher = createPodLogWatcher(podDir(e.spec.podId), cfg.rotation, scanning);
    const probe = readiness.probe;
    if (probe !== null && (e.status.state === 'running' || e.status.state === 'ready')) {
      e.prober = startProber({
        spec: probe,
        ready: e.status.state === 'ready',
        firstDelayMs: firstCheckDelayMs(probe, e.status.startedAtMs ?? now(), now()),
        check: cfg.probeCheck,
        onChange: (ready, why) => (ready ? markReady(e, why) : markUnready(e, why)),
      });
    }
    if (readiness.delayMs !== null && e.status.state === 'running') {
      const delayMs = readiness.delayMs;
      const left = Math.max(0, (e.status.startedAtMs ?? now()) + delayMs - now());
      e.readyTimer = setTimeout(() => markReady(e, `alive after ${delayMs} ms`), left);
      e.readyTimer.unref();
    }
  };

  /** Frees what an ended pod held, in the background; a failure is logged, never thrown. */
  const releaseLater = (podId: string, ref: RuntimeRef | null): void => {
    if (ref === null) return;
    runtime.release(ref).catch((x: unknown) => log.warn('runtime release failed', { podId, error: x }));
  };

  const finish: PodTable['finish'] = (e, end) => {
    if (closed || isEnded(e.status.state)) return;
    if (e.readyTimer !== null) clearTimeout(e.readyTimer);
    e.readyTimer = null;
    stopProbing(e);
    e.watcher?.stopScanning();
    e.watcher = null;
    const ref = e.ref;
    // The main process is the pod: what it leaves behind would hold GPU memory no pod accounts
    // for, so it goes too (as a container's processes go with its init).
    if (ref !== null && runtime.alive(ref)) {
      note(e, `main process ended; SIGKILL to what is left: ${runtime.pids(ref).join(' ')}`);
      runtime.signal(ref, 'SIGKILL');
    }
    e.status.state = 'exited';
    e.status.exitCode = end.exitCode;
    e.status.signal = end.signal;
    e.status.reason = reasonOf(e.spec, e.endReason, end.reason);
    note(e, `exited code=${end.exitCode} signal=${end.signal} reason=${e.status.reason}`);
    e.events?.close();
    e.events = null;
    persist();
    emit(e);
    e.resolveExited();
    releaseLater(e.spec.podId, ref);
  };

  /** Follows a launched or adopted pod until it ends. */
  const follow = (e: PodEntry, pod: LaunchedPod): void => {
    void pod.ended.then((end) => {
      const unknown = e.status.adopted && end.exitCode === null && end.signal === null && end.reason === null;
      finish(e, unknown ? { ...end, reason: REASON_EXITED_ADOPTED } : end);
    });
  };

  /** The runtime's answer to a launch: the pod runs (or is stopped at once, if a stop came first), or it ends. */
  const launchSettled = (e: PodEntry, r: Result<LaunchedPod>): void => {
    e.abort = null;
    if (!r.ok) {
      note(e, `not started: ${r.error.message}`);
      finish(e, { exitCode: null, signal: null, reason: r.error.message });
      return;
    }
    const { ref } = r.value;
    e.ref = ref;
    // Pid 0: a container that had ended before its pid was seen; the status knows no process then.
    e.status.pid = ref.pid > 0 ? ref.pid : null;
    e.status.startTimeTicks = ref.pid > 0 ? ref.startTimeTicks : null;
    e.status.startedAtMs = now();
    const stoppedMeanwhile = e.status.state === 'stopping' || closed;
    if (!stoppedMeanwhile) transition(e, 'running');
    note(e, `started epoch ${e.spec.epoch}: pid ${ref.pid}, command ${JSON.stringify(e.spec.command)}`);
    const saved = persist();
    follow(e, r.value);
    if (!saved.ok) {
      // A pod missing from the checkpoint would be orphaned by the next agent and could run twice.
      e.endReason = REASON_NOT_RECORDED;
      runtime.signal(ref, 'SIGKILL');
      return;
    }
    if (stoppedMeanwhile) return;
    watch(e);
    emit(e);
  };

  const start: PodTable['start'] = (spec) => {
    const dir = podDir(spec.podId);
    const prepared = prepareLaunch(cfg, spec, dir);
    if (!prepared.ok) return prepared;
    const { env, stdoutFd, stderrFd } = prepared.value;
    const e = newEntry(spec, blankStatus(spec, 'starting'), null);
    pods.set(spec.podId, e);
    epochs.set(spec.podId, spec.epoch);
    const saved = persist();
    if (!saved.ok) {
      closeFd(stdoutFd);
      closeFd(stderrFd);
      e.endReason = REASON_NOT_RECORDED;
      finish(e, { exitCode: null, signal: null, reason: null });
      return saved;
    }
    const abort = new AbortController();
    e.abort = abort;
    const onEvent = (
      kind: RuntimeEventKind,
      message: string,
      numbers?: Readonly<Record<string, number>>,
    ): void => {
      note(e, `${kind}: ${message}`);
      try {
        cfg.onEvent({ podId: spec.podId, kind, message, ...(numbers === undefined ? {} : { numbers }) });
      } catch (x) {
        log.error('onEvent listener threw', { podId: spec.podId, error: x });
      }
    };
    // The full spec, credential included, goes to the runtime only.
    const launching = runtime
      .launch({ spec, podDir: dir, stdoutFd, stderrFd, env, onEvent, signal: abort.signal })
      .catch(
        (x: unknown): Result<LaunchedPod> => ({
          ok: false,
          error: tesseraError('TESSERA_E_INTERNAL', `runtime ${runtime.kind} launch threw: ${String(x)}`),
        }),
      );
    e.launched = launching.then((r) => {
      // The pod has its own copies now; ours would only keep the files open.
      closeFd(stdoutFd);
      closeFd(stderrFd);
      launchSettled(e, r);
    });
    emit(e);
    return ok({ ...e.status });
  };

  /** Re-attaches one recorded, not yet ended pod through its runtime; returns whether it runs. */
  const adoptOne = async (e: PodEntry, rec: CheckpointPod, reasonDown: string): Promise<boolean> => {
    const ref = rec.ref;
    const found = ref === null ? null : await runtime.adopt(ref, rec.spec);
    if (found !== null && 'running' in found) {
      e.status.adopted = true;
      if (rec.state === 'starting') e.status.state = 'running';
      e.endReason = rec.reason;
      e.status.reason = null;
      note(e, `adopted by agent pid ${process.pid} (pid ${rec.pid}, start time ${rec.startTimeTicks})`);
      watch(e);
      follow(e, found.running);
      return true;
    }
    const end: PodEnd = found?.ended ?? { exitCode: null, signal: null, reason: null };
    const stat = ref === null ? null : readProcStat(ref.pid);
    if (ref !== null && stat !== null && stat.startTimeTicks !== ref.startTimeTicks) {
      // PID reuse: the number now names someone else's process; the runtime signalled nothing.
      e.status.state = 'lost';
      e.status.reason = downReason(
        rec,
        `lost: pid ${ref.pid} now belongs to another process (${stat.comm}, start time ${stat.startTimeTicks}, recorded ${ref.startTimeTicks}); the pod ended while the agent was down`,
      );
    } else {
      e.status.state = 'exited';
      e.status.reason = downReason(rec, end.reason ?? reasonDown);
    }
    e.status.exitCode = end.exitCode;
    e.status.signal = end.signal;
    note(e, `not adopted: ${e.status.reason}`);
    e.events?.close();
    e.events = null;
    e.resolveExited();
    if (ref !== null) await runtime.release(ref);
    return false;
  };

  return {
    get: (podId) => pods.get(podId),
    all: () => [...pods.values()],
    live: () => [...pods.values()].filter((e) => !isEnded(e.status.state)),
    epochOf: (podId) => epochs.get(podId),
    podDir,
    start,
    finish,
    note,

    beginStop(e, reason, override = false) {
      if (e.endReason === null || override) e.endReason = reason;
      if (transition(e, 'stopping')) {
        e.watcher?.stopScanning();
        stopProbing(e);
        persist();
        emit(e);
      }
    },

    pollLogs() {
      for (const e of pods.values()) {
        if (e.watcher === null || isEnded(e.status.state)) continue;
        try {
          const r = e.watcher.poll();
          for (const d of r.dropped) {
            note(e, `${d.stream}.log passed twice its cap unrotated; dropped its oldest ${d.bytes} bytes`);
          }
          if (r.ready) markReady(e, 'readiness line on stdout');
        } catch (x) {
          log.warn('pod log poll failed', { podId: e.spec.podId, error: x });
        }
      }
    },

    async adoptFrom(cp, reasonDown) {
      const adopted: PodStatus[] = [];
      const ended: PodStatus[] = [];
      for (const [id, ep] of Object.entries(cp.epochs)) epochs.set(id, Math.max(epochs.get(id) ?? ep, ep));
      for (const rec of cp.pods) {
        const id = rec.spec.podId;
        if (pods.has(id)) continue;
        epochs.set(id, Math.max(epochs.get(id) ?? rec.spec.epoch, rec.spec.epoch));
        const e = newEntry(
          rec.spec,
          {
            ...blankStatus(rec.spec, rec.state),
            pid: rec.pid,
            startTimeTicks: rec.startTimeTicks,
            startedAtMs: rec.startedAtMs,
            exitCode: rec.exitCode,
            signal: rec.signal,
            reason: rec.reason,
          },
          rec.ref,
        );
        pods.set(id, e);
        if (isEnded(rec.state)) {
          e.resolveExited();
          // The agent before may have died inside the release (a container left in podman's
          // "stopping", a cgroup not yet removed): releasing is idempotent, so it is done again.
          releaseLater(id, rec.ref);
          continue;
        }
        if (await adoptOne(e, rec, reasonDown)) adopted.push(e.status);
        else ended.push(e.status);
      }
      persist();
      for (const s of [...adopted, ...ended]) {
        const e = pods.get(s.podId);
        if (e !== undefined) emit(e);
      }
      return { adopted: adopted.map((s) => ({ ...s })), ended: ended.map((s) => ({ ...s })) };
    },

    forget(podId) {
      pods.delete(podId);
      return persist();
    },

    close() {
      closed = true;
      for (const e of pods.values()) {
        if (e.readyTimer !== null) clearTimeout(e.readyTimer);
        stopProbing(e);
        e.events?.close();
        e.events = null;
      }
    },
  };
}
