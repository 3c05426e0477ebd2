/** Which pod reports the link passes on: only a node's own pods at their current epoch, and not the same report twice in a row. */
import type { WirePodStatus } from '../../common/wire.ts';
import type { Db } from '../store/db.ts';
import { getPod, listAssignments, type PodRecord } from '../store/pods.ts';
import { parseWirePodId } from './pod-id.ts';
import type { RefusedReason } from './types.ts';

/**
 * An identical pod report is handled again after this long even so: agents repeat every pod, ended
 * ones included, on every heartbeat, and handling each repeat cost most of the allocator's time at
 * 10,000 nodes; re-handling now and then retries one whose effect did not land.
 */
export const REPEAT_REPORT_MS = 30_000;

/** What makes two reports of a pod the same. */
export function reportKey(r: WirePodStatus): string {
  return `${r.epoch}|${r.state}|${r.exitCode}|${r.signal}|${r.reason}`;
}

/** The pod a report may speak for, or why it may not: only this node's pods at their current epoch. */
export function owned(
  db: Db,
  node: string,
  r: WirePodStatus,
): { ok: true; pod: PodRecord } | { ok: false; reason: RefusedReason } {
  const key = parseWirePodId(r.podId);
  const pod = key === null ? undefined : getPod(db, key.workload, key.pod);
  if (key === null || pod === undefined) return { ok: false, reason: 'unknown-pod' };
  const at = listAssignments(db, key.workload, key.pod).find((a) => a.epoch === r.epoch);
  if (at === undefined || at.node !== node) return { ok: false, reason: 'other-node' };
  if (pod.node !== node || pod.epoch !== r.epoch) return { ok: false, reason: 'stale-epoch' };
  return { ok: true, pod };
}
