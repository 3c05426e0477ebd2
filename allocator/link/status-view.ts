/**
 * What the allocator knows of one session's node from its Statuses: every pod's latest report and
 * the latest GPU samples. A full Status replaces it; a delta (docs/architecture.md §5, "Status
 * deltas") changes only the pods it lists and drops those it names gone. The rest of the allocator
 * sees only the merged, full Status, so absence checks and dispatch read what a full one would say.
 *
 * Pure but for the view it is handed: `applyStatus` updates that view in place, since one exists per
 * session and a copy per Status (ten thousand a second) would be garbage for nothing.
 */
import type { Status, WirePodStatus } from '../../common/wire.ts';
import { REPEAT_REPORT_MS, reportKey } from './reports.ts';
import { createSampleSlots, type SampleSlots } from './sample-slots.ts';

/** One pod's newest report, its key, when a report with that key was last passed on, and the last Status listing it. */
interface PodEntry {
  report: WirePodStatus;
  key: string;
  handledAtMs: number;
  seenSeq: number;
}

/** A session's merged view of its node. */
export interface StatusView {
  /** Seq of the last Status applied: the only base a delta may build on. */
  seq: number;
  pods: Map<string, PodEntry>;
  /** The newest GPU samples, as numbers (sample-slots.ts says why not as the decoded objects). */
  samples: SampleSlots;
  /** The merged pod list, built on demand and dropped when a pod changes. */
  podList: WirePodStatus[] | null;
}

/** What one Status did to the view. */
export type StatusStep =
  | {
      kind: 'applied';
      view: StatusView;
      /** The full Status the view now stands for (the Status itself when it was full). */
      merged: Status;
      /** Reports to pass on: new or changed, or unchanged for REPEAT_REPORT_MS. */
      handle: WirePodStatus[];
      /** Reports skipped as identical repeats. */
      repeated: number;
    }
  | {
      /**
       * A delta whose base is not the view's last Status (or with no view): what the node runs as a
       * whole is unknown until a full Status comes, so there is no merged Status to check absence
       * against; its reports are still true of their pods and are passed on.
       */
      kind: 'gap';
      handle: WirePodStatus[];
    };

/** Applies `status` to `view` (null: none yet) at `nowMs`. */
export function applyStatus(view: StatusView | null, status: Status, nowMs: number): StatusStep {
  const delta = status.delta ?? null;
  if (delta === null) return applyFull(view, status, nowMs);
  if (view === null || delta.baseSeq !== view.seq) return { kind: 'gap', handle: status.podStates };
  const handle: WirePodStatus[] = [];
  let repeated = 0;
  for (const r of status.podStates) {
    if (passOn(view.pods, r, nowMs, status.seq)) handle.push(r);
    else repeated += 1;
  }
  for (const id of delta.gonePods) view.pods.delete(id);
  if (status.podStates.length > 0 || delta.gonePods.length > 0) view.podList = null;
  if (status.gpuSamples.length > 0) view.samples.store(status.gpuSamples);
  view.seq = status.seq;
  view.podList ??= [...view.pods.values()].map((e) => e.report);
  const merged: Status = {
    seq: status.seq,
    atMs: status.atMs,
    gpuSamples: status.gpuSamples.length > 0 ? status.gpuSamples : view.samples.materialize(),
    podStates: view.podList,
  };
  return { kind: 'applied', view, merged, handle, repeated };
}

/**
 * A full Status: the view is brought to it, pods it no longer lists forgotten. The view's map, its
 * entries and their reports are kept where nothing changed: what a Status decoded to should die young.
 */
function applyFull(view: StatusView | null, status: Status, nowMs: number): StatusStep {
  const pods = view?.pods ?? new Map<string, PodEntry>();
  const handle: WirePodStatus[] = [];
  let repeated = 0;
  for (const r of status.podStates) {
    if (passOn(pods, r, nowMs, status.seq)) handle.push(r);
    else repeated += 1;
  }
  for (const [id, e] of pods) if (e.seenSeq !== status.seq) pods.delete(id);
  const samples = view?.samples ?? createSampleSlots();
  // An empty list in a full Status is "nothing new" (gpu-samples.ts): the last ones still stand.
  if (status.gpuSamples.length > 0) samples.store(status.gpuSamples);
  const next: StatusView = view ?? { seq: status.seq, pods, samples, podList: null };
  next.seq = status.seq;
  next.podList = null;
  return { kind: 'applied', view: next, merged: status, handle, repeated };
}

/**
 * Records `r` in `pods`; true when it should be passed on: new or changed, or an identical repeat
 * after REPEAT_REPORT_MS (re-handling now and then retries one whose effect did not land).
 */
function passOn(pods: Map<string, PodEntry>, r: WirePodStatus, nowMs: number, seq: number): boolean {
  const key = reportKey(r);
  const last = pods.get(r.podId);
  if (last === undefined) {
    pods.set(r.podId, { report: r, key, handledAtMs: nowMs, seenSeq: seq });
    return true;
  }
  last.seenSeq = seq;
  if (last.key === key && nowMs - last.handledAtMs < REPEAT_REPORT_MS) {
    // The same report: the held object stands for it unless what the key leaves out moved.
    if (last.report.pid !== r.pid || last.report.startedAtMs !== r.startedAtMs) last.report = r;
    return false;
  }
  last.report = r;
  last.key = key;
  last.handledAtMs = nowMs;
  return true;
}
