/**
 * stale-gang: a gang that lost members and stayed below minReplicas past the grace period holds GPUs
 * without making progress; evict it whole so it can be placed again, whole.
 */
import { formatDurationMs } from '../../../common/resources.ts';
import type { Session } from '../session.ts';
import type { Statement } from '../statement.ts';
import type { Action } from './types.ts';

/** The stale-gang action. */
export const staleGang: Action = {
  name: 'stale-gang',
  run(session: Session, stmt: Statement): void {
    const grace = session.config.staleGangGraceMs;
    for (const g of session.groups) {
      const since = g.snap.belowMinSinceMs;
      if (since === undefined || g.pods.length === 0 || g.pods.length >= g.snap.minMember) continue;
      if (g.snap.unreachable === true) continue;
      if (session.nowMs - since < grace) continue;
      const reason = `gang ran with ${g.pods.length} of ${g.snap.minMember} required pods for longer than ${formatDurationMs(grace)}; evicted whole to be placed again`;
      for (const pod of [...g.pods]) stmt.evict(pod, 'stale-gang', reason);
    }
  },
};
