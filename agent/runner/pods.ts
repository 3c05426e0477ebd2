/**
 * The runner's table of pods and the per-pod mechanics behind runner.ts: starting (the launch itself
 * is launch.ts), state changes through the lifecycle gate, readiness, the end of a pod, the
 * checkpoint, and adoption.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ok, type Result } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import {
  CHECKPOINT_VERSION,
  type CheckpointFs,
  type CheckpointPod,
  type RunnerCheckpoint,
  writeCheckpoint,
} from './checkpoint.ts';
import { endReason, guardFencedPath, readGuardFenced } from './guard-record.ts';
import { type LaunchConfig, launchPod } from './launch.ts';
import { canPodTransition, isEnded } from './lifecycle.ts';
import { createRotatingLogWriter, logPath, type RotatingLogWriter } from './logs.ts';
import {
  groupAlive,
  groupPids,
  isLiveProcess,
  killTaggedGroupMembers,
  processStartTime,
  readProcStat,
  signalGroup,
} from './proc.ts';
import { effectiveReadiness } from './readiness.ts';
import type { PodRunState, PodSpec, PodStatus, ReadinessSpec } from './types.ts';
import { createPodLogWatcher, type PodLogWatcher } from './watch.ts';

/** What the table needs from the runner's options, normalised. */
export interface PodTableConfig extends LaunchConfig {
  dataDir: string;
  readiness: ReadinessSpec;
  now: () => number;
  log: Logger;
  onStatus: (status: PodStatus) => void;
  checkpointPath: string;
  checkpointFs: CheckpointFs | undefined;
}

/** One pod as the runner holds it. */
export interface PodEntry {
  spec: PodSpec;
  status: PodStatus;
  /** Equal to the leader's pid (it calls setsid); null when no process was ever recorded. */
  pgid: number | null;
  /** Our child; null for an adopted pod, which only /proc can watch. */
  child: ChildProcess | null;
  watcher: PodLogWatcher | null;
  readyTimer: NodeJS.Timeout | null;
  stopping: Promise<Result<PodStatus>> | null;
  /** Why the agent ended it (stop, kill); wins over what the exit itself says. */
  endReason: string | null;
  /** Resolves once the pod has ended and that was reported. */
  exited: Promise<void>;
  resolveExited: () => void;
  events: RotatingLogWriter | null;
}

/** The table; see runner.ts for the public meaning of each operation. */
export interface PodTable {
  get(podId: string): PodEntry | undefined;
  all(): PodEntry[];
  live(): PodEntry[];
  epochOf(podId: string): number | undefined;
  podDir(podId: string): string;
  spawn(spec: PodSpec, cwd: string): Result<PodStatus>;
  beginStop(e: PodEntry, reason: string, override?: boolean): void;
  finish(e: PodEntry, exitCode: number | null, signal: string | null, reason: string | null): void;
  note(e: PodEntry, line: string): void;
  pollLogs(): void;
  adoptFrom(cp: RunnerCheckpoint, reasonDown: string): { adopted: PodStatus[]; ended: PodStatus[] };
  forget(podId: string): Result<void>;
  close(): void;
}

/** The directory of pod `podId` under the agent's `dataDir` (for `tessera logs` without a runner). */
export function podDirOf(dataDir: string, podId: string): string {
  return join(dataDir, 'pods', podId);
}

function newEntry(spec: PodSpec, status: PodStatus): PodEntry {
  let resolveExited = (): void => {};
  const exited = new Promise<void>((r) => {
    resolveExited = r;
  });
  return {
    spec,
    status,
    pgid: null,
    child: null,
    watcher: null,
    readyTimer: null,
    stopping: null,
    endReason: null,
    exited,
    resolveExited,
    events: null,
  };
}

/** Creates the table over `cfg.dataDir`. */
export function createPodTable(cfg: PodTableConfig): PodTable {
  const pods = new Map<string, PodEntry>();
  // Newest epoch seen per pod id, including forgotten pods: the fencing watermark.
  const epochs = new Map<string, number>();
  let closed = false;
  const { log, now } = cfg;
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
        pid: e.status.pid,
        pgid: e.pgid,
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
    if (!canPodTransition(e.status.state, to)) return false;
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

  /** Starts watching logs and readiness of a running pod (freshly started or adopted). */
  const watch = (e: PodEntry): void => {
    const readiness = effectiveReadiness(e.spec.readiness, cfg.readiness);
    const scanning = e.status.state === 'running' ? readiness.linePrefix : null;
    e.watcher = createPodLogWatcher(podDir(e.spec.podId), cfg.rotation, scanning);
    if (readiness.delayMs !== null && e.status.state === 'running') {
      const delayMs = readiness.delayMs;
      const left = Math.max(0, (e.status.startedAtMs ?? now()) + delayMs - now());
      e.readyTimer = setTimeout(() => markReady(e, `alive after ${delayMs} ms`), left);
      e.readyTimer.unref();
    }
  };

  const finish: PodTable['finish'] = (e, exitCode, signal, reason) => {
    if (closed || isEnded(e.status.state)) return;
    if (e.readyTimer !== null) clearTimeout(e.readyTimer);
    e.readyTimer = null;
    e.watcher?.stopScanning();
    e.watcher = null;
    // The leader is the pod: what it leaves behind in its group would hold GPU memory that no pod
    // accounts for, so it goes too (as a container's processes go with its init).
    if (e.pgid !== null && groupAlive(e.pgid)) {
      note(e, `leader ended; SIGKILL to what is left of group ${e.pgid}: ${groupPids(e.pgid).join(' ')}`);
      signalGroup(e.pgid, 'SIGKILL');
    }
    e.status.state = 'exited';
    e.status.exitCode = exitCode;
    e.status.signal = signal;
    e.status.reason = reasonOf(e.spec, e.endReason, reason);
    note(e, `exited code=${exitCode} signal=${signal} reason=${e.status.reason}`);
    e.events?.close();
    e.events = null;
    persist();
    emit(e);
    e.resolveExited();
  };

  const spawnPod: PodTable['spawn'] = (spec, cwd) => {
    const launched = launchPod(cfg, spec, podDir(spec.podId), cwd);
    if (!launched.ok) return launched;
    const { child, pid } = launched.value;
    const e = newEntry(spec, {
      podId: spec.podId,
      epoch: spec.epoch,
      state: 'running',
      pid,
      startTimeTicks: processStartTime(pid),
      startedAtMs: now(),
      exitCode: null,
      signal: null,
      reason: null,
      adopted: false,
    });
    e.pgid = pid;
    e.child = child;
    child.on('exit', (code, sig) => finish(e, code, sig, null));
    child.on('error', (x) => log.warn('pod process error', { podId: spec.podId, error: x }));
    // Pods outlive the agent: the child handle must not keep the agent's event loop alive.
    child.unref();
    pods.set(spec.podId, e);
    epochs.set(spec.podId, spec.epoch);
    note(e, `started epoch ${spec.epoch}: pid ${pid}, cwd ${cwd}, command ${JSON.stringify(spec.command)}`);
    const saved = persist();
    if (!saved.ok) {
      // A pod missing from the checkpoint would be orphaned by the next agent and could run twice.
      e.endReason = 'not started: the runner checkpoint could not be written';
      signalGroup(pid, 'SIGKILL');
      return saved;
    }
    watch(e);
    emit(e);
    return ok({ ...e.status });
  };

  return {
    get: (podId) => pods.get(podId),
    all: () => [...pods.values()],
    live: () => [...pods.values()].filter((e) => !isEnded(e.status.state)),
    epochOf: (podId) => epochs.get(podId),
    podDir,
    spawn: spawnPod,
    finish,
    note,

    beginStop(e, reason, override = false) {
      if (e.endReason === null || override) e.endReason = reason;
      if (transition(e, 'stopping')) {
        e.watcher?.stopScanning();
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

    adoptFrom(cp, reasonDown) {
      const adopted: PodStatus[] = [];
      const ended: PodStatus[] = [];
      for (const [id, ep] of Object.entries(cp.epochs)) epochs.set(id, Math.max(epochs.get(id) ?? ep, ep));
      for (const rec of cp.pods) {
        const id = rec.spec.podId;
        if (pods.has(id)) continue;
        epochs.set(id, Math.max(epochs.get(id) ?? rec.spec.epoch, rec.spec.epoch));
        const { spec, pid, startTimeTicks } = rec;
        const e = newEntry(spec, {
          podId: id,
          epoch: spec.epoch,
          state: rec.state,
          pid,
          startTimeTicks,
          startedAtMs: rec.startedAtMs,
          exitCode: rec.exitCode,
          signal: rec.signal,
          reason: rec.reason,
          adopted: false,
        });
        e.pgid = rec.pgid;
        pods.set(id, e);
        if (isEnded(rec.state)) {
          e.resolveExited();
          continue;
        }
        if (pid !== null && startTimeTicks !== null && isLiveProcess(pid, startTimeTicks)) {
          e.status.adopted = true;
          if (rec.state === 'starting') e.status.state = 'running';
          e.endReason = rec.reason;
          e.status.reason = null;
          note(e, `adopted by agent pid ${process.pid} (pid ${pid}, start time ${startTimeTicks})`);
          watch(e);
          adopted.push(e.status);
          continue;
        }
        const stat = pid === null ? null : readProcStat(pid);
        if (stat !== null && stat.startTimeTicks !== startTimeTicks) {
          // PID reuse: the number now names someone else's process (and maybe group): signal nothing.
          e.status.state = 'lost';
          e.status.reason = downReason(
            rec,
            `lost: pid ${pid} now belongs to another process (${stat.comm}, start time ${stat.startTimeTicks}, recorded ${startTimeTicks}); the pod ended while the agent was down`,
          );
        } else {
          if (e.pgid !== null) {
            const tags = { TESSERA_POD_ID: id, TESSERA_EPOCH: String(spec.epoch) };
            for (const p of killTaggedGroupMembers(e.pgid, tags))
              note(e, `killed pid ${p}, left over in the group`);
          }
          e.status.state = 'exited';
          e.status.reason = downReason(rec, reasonDown);
        }
        e.status.exitCode = null;
        e.status.signal = null;
        note(e, `not adopted: ${e.status.reason}`);
        e.events?.close();
        e.events = null;
        e.resolveExited();
        ended.push(e.status);
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
        e.events?.close();
        e.events = null;
      }
    },
  };
}
