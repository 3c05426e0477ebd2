/**
 * One pod as the runner's table holds it, and what is decided about a pod without the table: the
 * end reasons the runner gives, the pod's dir under the data dir, a spec without its credential.
 */
import { join } from 'node:path';
import type { Result } from '../../common/errors.ts';
import type { RuntimeEventKind, RuntimeRef } from '../runtime/types.ts';
import type { RotatingLogWriter } from './logs.ts';
import type { Prober } from './probe.ts';
import type { PodRunState, PodSpec, PodStatus } from './types.ts';
import type { PodLogWatcher } from './watch.ts';

/** Why an adopted pod's end carries no exit code: the agent was not its parent, so it cannot wait(). */
export const REASON_EXITED_WHILE_DOWN = 'exited while the agent was down; exit code unknown';
/** As above, for a pod that ended after this agent adopted it. */
export const REASON_EXITED_ADOPTED = 'exited after the agent adopted it; exit code unknown (not its child)';
/** A pod whose start the checkpoint could not record: never started, since the next agent could not adopt it. */
export const REASON_NOT_RECORDED = 'not started: the runner checkpoint could not be written';

/** A runtime's progress line about one pod, as the runner passes it on (`RunnerOptions.onEvent`). */
export interface PodRuntimeEvent {
  podId: string;
  kind: RuntimeEventKind;
  message: string;
  numbers?: Readonly<Record<string, number>>;
}

/** One pod as the runner holds it. */
export interface PodEntry {
  /** Without `pullCredential`: that is for the start only. */
  spec: PodSpec;
  status: PodStatus;
  /** How the runtime finds the pod; null while it starts (or when it never started). */
  ref: RuntimeRef | null;
  /** Aborts a start still under way (a long image pull) when the pod is stopped. */
  abort: AbortController | null;
  /** Resolves once the runtime's launch has settled, either way. */
  launched: Promise<void>;
  watcher: PodLogWatcher | null;
  readyTimer: NodeJS.Timeout | null;
  /** The readiness prober, while the pod runs with a probe (probe.ts). */
  prober: Prober | null;
  stopping: Promise<Result<PodStatus>> | null;
  /** Why the agent ended it (stop, kill); wins over what the exit itself says. */
  endReason: string | null;
  /** Resolves once the pod has ended and that was reported. */
  exited: Promise<void>;
  resolveExited: () => void;
  events: RotatingLogWriter | null;
}

/** The directory of pod `podId` under the agent's `dataDir` (for `tessera logs` without a runner). */
export function podDirOf(dataDir: string, podId: string): string {
  return join(dataDir, 'pods', podId);
}

/** `spec` without its registry credential, which must never reach the checkpoint or a caller. */
export function withoutCredential(spec: PodSpec): PodSpec {
  const { pullCredential: _dropped, ...rest } = spec;
  return structuredClone(rest);
}

export function newEntry(spec: PodSpec, status: PodStatus, ref: RuntimeRef | null): PodEntry {
  let resolveExited = (): void => {};
  const exited = new Promise<void>((r) => {
    resolveExited = r;
  });
  return {
    spec: withoutCredential(spec),
    status,
    ref,
    abort: null,
    launched: Promise.resolve(),
    watcher: null,
    readyTimer: null,
    prober: null,
    stopping: null,
    endReason: null,
    exited,
    resolveExited,
    events: null,
  };
}

export function blankStatus(spec: PodSpec, state: PodRunState): PodStatus {
  return {
    podId: spec.podId,
    epoch: spec.epoch,
    state,
    pid: null,
    startTimeTicks: null,
    startedAtMs: null,
    exitCode: null,
    signal: null,
    reason: null,
    adopted: false,
  };
}
