/**
 * What agents' reports and lost nodes do to pods and workloads (docs/architecture.md §2 and §5): a pod's phase
 * follows its agent's report, a workload's follows its pods (derive.ts), a pod lost with its node or
 * fenced by its agent is replaced, and a gang left below its minimum goes back to Pending whole.
 * Each entry point runs in one transaction and returns the stops the link must send.
 */
import { formatDisconnectPolicy, replaceAfterMs } from '../../common/disconnect.ts';
import type { Result } from '../../common/errors.ts';
import type { PodPhase } from '../../common/phases.ts';
import type { WirePodStatus } from '../../common/wire.ts';
import { type Db, inTransaction } from '../store/db.ts';
import { fail, guard, StoreError } from '../store/errors.ts';
import { deleteNode, getNode } from '../store/nodes.ts';
import { listPods, type PodRecord, SCHEDULED_POD_PHASES } from '../store/pods.ts';
import { getWorkload } from '../store/workloads.ts';
import { REPORT_DRIVEN_PHASES } from './derive.ts';
import { advancePod } from './pods.ts';
import { failPod, isRetryable } from './restart.ts';
import { keepOrRequeue, type LifecycleResult, settle } from './settle.ts';

export type { LifecycleResult } from './settle.ts';

/** Pod phases a report may still move. */
const REPORTABLE: readonly PodPhase[] = ['Bound', 'Starting', 'Running', 'Unknown', 'Stopping'];

/**
 * True when the agent ended the pod because it lost the allocator (self-fencing, or the desired set
 * on reconnect left it out): the work did not fail, its node did, so it is replaced, not failed.
 * The words are the agent's (agent/link/client.ts and map.ts `fenceAgainst`).
 */
export function isFenceStop(reason: string | null): boolean {
  return reason !== null && (reason.startsWith('lease lost') || reason.startsWith('fenced'));
}

/** Applies one accepted pod report (the link checked node and epoch) at `nowMs`. */
export function applyPodReport(
  db: Db,
  report: WirePodStatus,
  pod: PodRecord,
  nowMs: number,
): LifecycleResult {
  if (!REPORTABLE.includes(pod.phase)) return { stops: [], changed: false };
  return inTransaction(db, (): LifecycleResult => {
    const ended = report.state === 'exited' || report.state === 'lost';
    if (!ended) {
      if (pod.phase === 'Stopping') return { stops: [], changed: false };
      // `running` is a process started; `ready` (or swapped out after being ready) is a pod initialised.
      // A Running pod reported `running` again lost its readiness (its probe failed): back to Starting,
      // so it no longer counts as ready. Only a probe takes readiness back on the agent.
      const to: PodPhase =
        report.state === 'ready' || report.state === 'swapped-out' ? 'Running' : 'Starting';
      const changed = advancePod(db, pod, to, `agent reports ${report.state}`);
      return changed ? { ...settle(db, pod.workload, nowMs), changed } : { stops: [], changed };
    }
    if (pod.phase === 'Stopping') {
      advancePod(db, pod, 'Stopped', report.reason ?? 'stopped', report.exitCode);
      return { ...settle(db, pod.workload, nowMs), changed: true };
    }
    if (isFenceStop(report.reason))
      return losePods(db, pod.workload, [pod], 'NodeFenced', report.reason ?? '', nowMs);
    const ok = report.state === 'exited' && report.exitCode === 0 && report.signal === null;
    const why =
      report.reason ??
      (report.signal !== null
        ? `killed by ${report.signal}`
        : `exited with code ${report.exitCode ?? 'unknown'}`);
    if (!ok) {
      // A start that failed (no exit code, no signal, never reported running) is the spec's fault.
      const started = pod.phase !== 'Bound' || report.exitCode !== null || report.signal !== null;
      const failure = { why, exitCode: report.exitCode, retryable: isRetryable(why, started) };
      return { ...failPod(db, pod, failure, nowMs), changed: true };
    }
    advancePod(db, pod, 'Succeeded', why, report.exitCode);
    return { ...settle(db, pod.workload, nowMs), changed: true };
  });
}

/**
 * A Stopping pod its node no longer runs (absent from the node's full report well after the stop was
 * sent): the stop is done. Only Stopping pods; teardown moves a stopped workload's Bound pods there first.
 */
export function confirmAbsent(db: Db, pod: PodRecord, nowMs: number): LifecycleResult {
  return inTransaction(db, (): LifecycleResult => {
    if (pod.phase !== 'Stopping') return { stops: [], changed: false };
    advancePod(db, pod, 'Stopped', 'not running on its node');
    return { ...settle(db, pod.workload, nowMs), changed: true };
  });
}

/**
 * A pod its node has not listed in its reports for `absentMs` although the store believes it runs
 * there: it is gone (reason Lost) and is handled as any failed pod (restarted under OnFailure).
 */
export function failLost(db: Db, pod: PodRecord, nowMs: number, absentMs: number): LifecycleResult {
  return inTransaction(db, (): LifecycleResult => {
    const why = `Lost: node ${pod.node} has not reported the pod for ${Math.round(absentMs / 1000)} s`;
    return failPod(db, pod, { why, exitCode: null, retryable: true }, nowMs);
  });
}

/**
 * A Bound pod that can never start as placed (its StartPod cannot be built or breaks a wire limit):
 * Failed, with `why` in the workload's event, rather than resent for ever.
 */
export function failUnstartable(db: Db, pod: PodRecord, why: string, nowMs: number): LifecycleResult {
  return inTransaction(db, (): LifecycleResult => {
    if (pod.phase !== 'Bound') return { stops: [], changed: false };
    advancePod(db, pod, 'Failed', why);
    return { ...settle(db, pod.workload, nowMs, `pod ${pod.name} cannot start: ${why}`), changed: true };
  });
}

/**
 * A node missed its lease: nobody knows what runs there any more. Its started pods become Unknown
 * and keep what they hold; nothing replaces them (their agent keeps `keep` pods running through any
 * allocator outage) until the node reports again, `replaceCutOff` finds a `reschedule` pod's time up,
 * or an admin deletes the node with --force. Bound pods stay Bound: their StartPod goes out again
 * when the node is back (the agent's epoch rule ignores a repeat), so a pod that never started is
 * started then rather than failed as vanished. Stopping pods stay Stopping: the stop may never have
 * reached them.
 */
export function nodeLost(db: Db, node: string, nowMs: number): LifecycleResult {
  return inTransaction(db, (): LifecycleResult => {
    const out: LifecycleResult = { stops: [], changed: false };
    const live = listPods(db, { node, phases: ['Starting', 'Running'] });
    for (const p of live)
      out.changed = advancePod(db, p, 'Unknown', `NodeLost: node ${node} missed its lease`) || out.changed;
    for (const id of new Set(live.map((p) => p.workload))) out.stops.push(...settle(db, id, nowMs).stops);
    return out;
  });
}

/**
 * Replaces the pods whose disconnect policy is `reschedule` once their node has been silent for that
 * long plus the margin: by then their agent stopped them, or its fence guard killed them, so the
 * replacement never runs beside the original. `silentMs` gives each node's silence (from the link's
 * heard-from times); nodes it leaves out are not silent.
 */
export function replaceCutOff(db: Db, silentMs: ReadonlyMap<string, number>, nowMs: number): LifecycleResult {
  return inTransaction(db, (): LifecycleResult => {
    const out: LifecycleResult = { stops: [], changed: false };
    const due = new Map<string, PodRecord[]>();
    for (const [node, silent] of silentMs) {
      for (const p of listPods(db, { node, phases: SCHEDULED_POD_PHASES })) {
        const w = getWorkload(db, p.workload);
        const after = w === undefined ? null : replaceAfterMs(w.spec.disconnect);
        if (after === null || silent < after) continue;
        due.set(p.workload, [...(due.get(p.workload) ?? []), p]);
      }
    }
    for (const [id, pods] of due) {
      const w = getWorkload(db, id);
      const policy = w === undefined ? '' : formatDisconnectPolicy(w.spec.disconnect);
      const nodes = [...new Set(pods.map((p) => p.node))].join(', ');
      const r = losePods(
        db,
        id,
        pods,
        'NodeLost',
        `node ${nodes} cut off past its disconnect policy ${policy}`,
        nowMs,
      );
      out.stops.push(...r.stops);
      out.changed = true;
    }
    return out;
  });
}

/**
 * An admin declares a lost node dead (`tessera node delete NAME --force`): its pods are taken as
 * gone, replaced where their workload still runs, and the node is forgotten. Should it come back,
 * the Welcome's empty desired set stops whatever it still runs. Refused for a node that is not lost:
 * its agent is connected, and the pods it runs would then run twice.
 */
export function forceDeleteNode(db: Db, node: string, nowMs: number): Result<LifecycleResult> {
  return guard(() =>
    inTransaction(db, (): LifecycleResult => {
      const rec = getNode(db, node);
      if (rec === undefined) fail('TESSERA_E_NOT_FOUND', `no node named ${node}`, { node });
      if (!rec.lost)
        fail(
          'TESSERA_E_CONFLICT',
          `node ${node} is connected: --force is for a node that missed its lease; stop its workloads or its agent first, or cordon it`,
          { node },
        );
      const out: LifecycleResult = { stops: [], changed: true };
      const pods = listPods(db, { node });
      for (const p of pods.filter((x) => x.phase === 'Stopping'))
        advancePod(db, p, 'Stopped', `node ${node} deleted by an admin`);
      const byWorkload = new Map<string, PodRecord[]>();
      for (const p of pods.filter((x) => SCHEDULED_POD_PHASES.includes(x.phase)))
        byWorkload.set(p.workload, [...(byWorkload.get(p.workload) ?? []), p]);
      for (const [id, lost] of byWorkload)
        out.stops.push(
          ...losePods(db, id, lost, 'NodeLost', `node ${node} deleted by an admin`, nowMs).stops,
        );
      for (const id of new Set(pods.map((p) => p.workload))) out.stops.push(...settle(db, id, nowMs).stops);
      const gone = deleteNode(db, node);
      if (!gone.ok) throw new StoreError(gone.error);
      return out;
    }),
  );
}

/**
 * Ends `lost` pods (they will not run again under their names; the scheduler places new ones). A
 * workload left with fewer live pods than its minimum stops the rest and goes back to Pending.
 */
function losePods(
  db: Db,
  id: string,
  lost: readonly PodRecord[],
  reason: string,
  message: string,
  nowMs: number,
): LifecycleResult {
  for (const p of lost) advancePod(db, p, 'Stopped', `${reason}: ${message}`);
  const w = getWorkload(db, id);
  if (w === undefined || !REPORT_DRIVEN_PHASES.includes(w.phase)) return { stops: [], changed: true };
  const { stops, changed } = keepOrRequeue(db, w, reason, message, nowMs);
  return { stops, changed };
}
