/** Placing a number of a group's pods in one pool, all or none, through the statement. */
import type { ActionName } from '../plan.ts';
import { quotaRefusal } from '../quota.ts';
import { type GroupState, grantResources, type Session, strategyOf } from '../session.ts';
import type { Statement } from '../statement.ts';

/** Outcome of trying to place pods: how many fit and, when not all, why. */
export interface PlaceOutcome {
  placed: boolean;
  fitted: number;
  reason: string;
  /** The capacity (or quota) explanation alone, without the gang framing. */
  why: string;
  /** True when the quota (not capacity) stopped it: the same shape may fit for another project. */
  quota: boolean;
}

/** Try to place `count` more pods of `group` in `pool`; rolls back everything unless all fit. */
export function placePods(
  session: Session,
  stmt: Statement,
  group: GroupState,
  pool: string,
  count: number,
  action: ActionName,
): PlaceOutcome {
  const mark = stmt.checkpoint();
  const strategy = strategyOf(session, pool);
  let fitted = 0;
  for (; fitted < count; fitted++) {
    const placement = session.placer.place(pool, group.req, strategy);
    if (!placement) {
      stmt.rollback(mark);
      const why = session.placer.explainNoFit(pool, group.req);
      return {
        placed: false,
        fitted,
        reason: capacityReason(group, pool, count, fitted, why),
        why,
        quota: false,
      };
    }
    const grants = placement.gpus.map((g) => ({
      uuid: '',
      gpuMilli: g.gpuMilli,
      memoryMiB: g.memoryMiB,
      memoryLimitMiB: 0,
    }));
    const refusal = quotaRefusal(session, group, pool, grantResources(grants, group.req));
    if (refusal) {
      stmt.rollback(mark);
      return { placed: false, fitted, reason: refusal, why: refusal, quota: true };
    }
    stmt.bind(group, placement.node, placement.gpus, action);
  }
  return { placed: true, fitted, reason: '', why: '', quota: false };
}

/** Why the pods did not fit, for a single pod or a gang. */
export function capacityReason(
  group: GroupState,
  pool: string,
  count: number,
  fitted: number,
  why: string,
): string {
  if (count <= 1 && group.snap.minMember <= 1) return why;
  // Called after the rollback: the group holds only the pods it had before this try.
  const have = group.pods.length;
  const total = group.snap.minMember;
  return `gang needs ${total} pods, ${have + fitted} fit in pool ${pool} (${why})`;
}
