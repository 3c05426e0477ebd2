/**
 * What a failed pod does to its workload under its restart policy (docs/architecture.md §2,
 * "Restarts"). `Never`: the pod is Failed and the workload's phase follows its pods, as it always
 * did. `OnFailure`: the failure is counted and the work starts again, up to `backoffLimit` times:
 * a gang (minReplicas > 1) is stopped whole and queued again, so all its pods are placed and started
 * together under new names and epochs (a late report of an old pod is fenced); a lone pod is ended
 * and the scheduler places a new one. Past the limit the workload is Failed (BackoffLimitExceeded)
 * and whatever still runs of it is stopped, as a Kubernetes Job does.
 *
 * The restart reuses the paths that already requeue work: stopping pods (pods.ts `beginStop`) and
 * the Pending move a lost gang makes, so the scheduler, not this file, places the new attempt.
 */
import type { WorkloadSpec } from '../../common/workload.ts';
import { restartsAsGang } from '../../common/workload-restart.ts';
import type { Db } from '../store/db.ts';
import { insertEvent } from '../store/events.ts';
import { listPods, type PodRecord, SCHEDULED_POD_PHASES } from '../store/pods.ts';
import { countRestart, getWorkload, moveWorkload } from '../store/workloads.ts';
import { podFailureText, REPORT_DRIVEN_PHASES } from './derive.ts';
import { advancePod, beginStop } from './pods.ts';
import { type LifecycleResult, settle } from './settle.ts';

/** How a pod failed, as the lifecycle tells it. */
export interface PodFailure {
  /** The pod's reason: its node's words, or `exited with code N` / `killed by SIGKILL`. */
  why: string;
  exitCode: number | null;
  /** False for a failure another try cannot fix (isRetryable). */
  retryable: boolean;
}

/** What to do with one failure. */
export type FailureVerdict =
  | { kind: 'fail' }
  | { kind: 'restart'; restart: number; gang: boolean }
  | { kind: 'exhausted' };

/**
 * The reasons no restart can fix: the agent already retried the pull, so the image, its registry
 * or its secret needs a fix, and the same start would fail the same way. (Kubernetes does not count
 * image pull errors against backoffLimit either; it waits in ImagePullBackOff, which here is the
 * agent's own retries before it reports ImagePullFailed.)
 */
const FINAL_REASONS = ['ImagePullFailed'] as const;

/**
 * True when another try may succeed: anything that ran and failed (an exit code, a signal, OOMKilled,
 * a pod Lost with its node). Not an image pull failure, nor a start that failed before the pod
 * ran (`started` false: the command is not on the node, a working dir or user the node refuses),
 * which is the spec's fault and fails the same way every time.
 */
export function isRetryable(why: string, started: boolean): boolean {
  if (!started) return false;
  return !FINAL_REASONS.some((r) => why === r || why.startsWith(`${r}:`));
}

/**
 * The verdict on a failure of a pod of a workload with `spec` that has been restarted `restarts`
 * times so far. Pure.
 */
export function failureVerdict(
  spec: Pick<WorkloadSpec, 'restartPolicy' | 'backoffLimit' | 'minReplicas' | 'type'>,
  restarts: number,
  retryable: boolean,
): FailureVerdict {
  if (spec.restartPolicy === 'Never' || !retryable) return { kind: 'fail' };
  if (restarts >= spec.backoffLimit) return { kind: 'exhausted' };
  return { kind: 'restart', restart: restarts + 1, gang: restartsAsGang(spec) };
}

/** `exit 3`, or the pod's reason when it has no exit code (`killed by SIGKILL`, `Lost: ...`). */
function exitText(f: PodFailure): string {
  return f.exitCode === null ? f.why : `exit ${f.exitCode}`;
}

/**
 * Ends `pod` as failed and carries out its workload's verdict (failureVerdict), returning the stops
 * to send. Callers hold a transaction.
 */
export function failPod(db: Db, pod: PodRecord, failure: PodFailure, nowMs: number): LifecycleResult {
  const w = getWorkload(db, pod.workload);
  // A workload that no report drives (stopped, queued again, deleting) has its own path for its pods.
  const verdict: FailureVerdict =
    w === undefined || !REPORT_DRIVEN_PHASES.includes(w.phase)
      ? { kind: 'fail' }
      : failureVerdict(w.spec, w.restarts, failure.retryable);
  if (w === undefined || verdict.kind === 'fail') {
    if (!advancePod(db, pod, 'Failed', failure.why, failure.exitCode)) return { stops: [], changed: false };
    return { ...settle(db, pod.workload, nowMs), changed: true };
  }
  if (verdict.kind === 'exhausted') {
    if (!advancePod(db, pod, 'Failed', failure.why, failure.exitCode)) return { stops: [], changed: false };
    const stops = stopLive(db, pod.workload, `backoff limit reached: pod ${pod.name} failed`);
    const failed = podFailureText({ ...pod, exitCode: failure.exitCode, reason: failure.why });
    const message = `${failed}; backoff limit of ${w.spec.backoffLimit} restart(s) reached`;
    moveWorkload(db, w.id, 'Failed', 'BackoffLimitExceeded', message, nowMs);
    return { stops, changed: true };
  }
  // The attempt is over, not the workload: the pod ends Stopped (as a pod lost with its node does),
  // so the phase follows the next attempt; its exit code stays on it and the event says it failed.
  if (!advancePod(db, pod, 'Stopped', `${failure.why} (restarted)`, failure.exitCode))
    return { stops: [], changed: false };
  const n = countRestart(db, w.id);
  const message = `restarting: pod ${pod.name} failed (${exitText(failure)}); restart ${n} of ${w.spec.backoffLimit}`;
  const live = listPods(db, { workload: w.id, phases: SCHEDULED_POD_PHASES });
  if (!verdict.gang && live.length > 0) {
    // Other replicas run on: the scheduler places a new pod beside them (filling the gang again where
    // fewer than minReplicas are left), the phase follows from them.
    insertEvent(db, {
      timeMs: nowMs,
      workload: w.id,
      from: w.phase,
      to: w.phase,
      reason: 'Restarting',
      message,
    });
    return { ...settle(db, w.id, nowMs), changed: true };
  }
  const stops = stopLive(db, w.id, `gang restart: pod ${pod.name} failed`);
  moveWorkload(db, w.id, 'Pending', 'Restarting', message, nowMs);
  return { stops, changed: true };
}

/** Stops every live pod of workload `id` with `reason`; the StopPods to send. */
function stopLive(db: Db, id: string, reason: string): LifecycleResult['stops'] {
  const stops: LifecycleResult['stops'] = [];
  for (const p of listPods(db, { workload: id, phases: SCHEDULED_POD_PHASES })) {
    const stop = beginStop(db, p, reason);
    if (stop !== null) stops.push(stop);
  }
  return stops;
}
