/**
 * Pods that vanished: the store believes a pod runs on a node, but that node's full Status no longer
 * lists it (its agent lost its state, its data dir was wiped, the process was killed behind the
 * agent's back). Left alone such a pod would hold its GPUs and quota for ever. A pod absent from
 * every Status of its node for `graceMs` becomes Failed with reason Lost, and its workload's phase
 * follows. Bound pods are left out (their StartPod may still be on its way), and so are Stopping ones
 * (dispatch confirms those). Each node is checked at most once per `checkEveryMs`, against the pods
 * the store held in those phases as of one query per `checkEveryMs` for all nodes: a query per node,
 * ten thousand of them per interval, took half a core at 10,000 agents. A pod found missing for the
 * whole grace is read again before it is failed, so a list up to one interval old decides nothing.
 */
import type { PodPhase } from '../../common/phases.ts';
import type { Status } from '../../common/wire.ts';
import { failLost, type LifecycleResult } from '../lifecycle/reports.ts';
import { wirePodId } from '../link/pod-id.ts';
import type { Db } from '../store/db.ts';
import { getPod, listPods, type PodRecord } from '../store/pods.ts';

/** The phases in which a pod must be in its node's Status. */
const LISTED_PHASES: readonly PodPhase[] = ['Starting', 'Running', 'Unknown'];

/** Options of `createAbsenceCheck`; durations in ms. */
export interface AbsenceOptions {
  heartbeatMs: number;
  /** How long a pod may be missing from its node's reports; default max(10 s, 5 heartbeats). */
  graceMs?: number;
  /** How often one node's pods are compared with its Status; default max(2 s, 2 heartbeats). */
  checkEveryMs?: number;
}

/** `AbsenceOptions` complete: both intervals filled in from the heartbeat. */
export type ResolvedAbsenceOptions = Required<AbsenceOptions>;

/** Fills in the defaults of `options`; computed here, not in a table, as both follow the heartbeat. */
export function resolveAbsenceOptions(options: AbsenceOptions): ResolvedAbsenceOptions {
  return {
    ...options,
    graceMs: options.graceMs ?? Math.max(10_000, 5 * options.heartbeatMs),
    checkEveryMs: options.checkEveryMs ?? Math.max(2000, 2 * options.heartbeatMs),
  };
}

/** The check the allocator runs on every node Status. */
export interface AbsenceCheck {
  onStatus(node: string, status: Status, nowMs: number): LifecycleResult;
}

/** Creates the check over `db`. */
export function createAbsenceCheck(db: Db, options: AbsenceOptions): AbsenceCheck {
  const { graceMs, checkEveryMs } = resolveAbsenceOptions(options);
  const lastCheck = new Map<string, number>();
  // `node -> podId#epoch -> first Status found without it`.
  const missing = new Map<string, Map<string, number>>();
  // The pods in LISTED_PHASES by node, as of `loadedAt`.
  let byNode = new Map<string, PodRecord[]>();
  let loadedAt = Number.NEGATIVE_INFINITY;
  const podsOf = (node: string, nowMs: number): readonly PodRecord[] => {
    if (nowMs - loadedAt >= checkEveryMs || nowMs < loadedAt) {
      byNode = new Map();
      for (const p of listPods(db, { phases: LISTED_PHASES })) {
        if (p.node === null) continue;
        const list = byNode.get(p.node);
        if (list === undefined) byNode.set(p.node, [p]);
        else list.push(p);
      }
      loadedAt = nowMs;
    }
    return byNode.get(node) ?? [];
  };

  return {
    onStatus(node, status, nowMs) {
      const out: LifecycleResult = { stops: [], changed: false };
      const last = lastCheck.get(node);
      if (last !== undefined && nowMs - last < checkEveryMs) return out;
      lastCheck.set(node, nowMs);
      const pods = podsOf(node, nowMs);
      // Most Statuses of a node with nothing to miss: no set of its reports built for nothing.
      if (pods.length === 0 && !missing.has(node)) return out;
      const listed = new Set(status.podStates.map((r) => `${r.podId}#${r.epoch}`));
      const before = missing.get(node) ?? new Map<string, number>();
      const now = new Map<string, number>();
      for (const p of pods) {
        const id = `${wirePodId(p.workload, p.name)}#${p.epoch}`;
        if (listed.has(id)) continue;
        const since = before.get(id) ?? nowMs;
        if (nowMs - since < graceMs) {
          now.set(id, since);
          continue;
        }
        // The list may be an interval old: only a pod still listed-phase here, as it was, is lost.
        const current = getPod(db, p.workload, p.name);
        if (!stillListed(current, p)) continue;
        const r = failLost(db, current, nowMs, nowMs - since);
        out.stops.push(...r.stops);
        out.changed ||= r.changed;
      }
      if (now.size > 0) missing.set(node, now);
      else missing.delete(node);
      return out;
    },
  };
}

/** True when `current` is `was` (same node and epoch), still in a phase its node must list. */
function stillListed(current: PodRecord | undefined, was: PodRecord): current is PodRecord {
  return (
    current !== undefined &&
    LISTED_PHASES.includes(current.phase) &&
    current.node === was.node &&
    current.epoch === was.epoch
  );
}
