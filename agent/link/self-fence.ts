/**
 * The link's self-fencing, per pod: cut off from the allocator, a pod whose disconnect policy is
 * `reschedule` is stopped once nothing has been heard for its `rescheduleAfterMs`, before the
 * allocator may place it elsewhere (common/disconnect.ts); a `keep` pod is never stopped for want of
 * the allocator. One timer, set for the earliest such pod; split from client.ts, which owns the
 * socket and tells this when the allocator was last heard.
 */
import type { Logger } from '../../common/log.ts';
import type { Applier } from './apply.ts';
import { mayStillRun } from './map.ts';
import type { LinkAgent, SetTimer } from './types.ts';

/** What the fence needs from the link. */
export interface SelfFenceDeps {
  agent: Pick<LinkAgent, 'status'>;
  applier: Pick<Applier, 'stopLivePods'>;
  /** When a well-formed allocator frame last arrived (ms). */
  lastHeardMs: () => number;
  now: () => number;
  setTimer: SetTimer;
  log: Logger;
  /** Some pods were fenced: the socket, silent this long, is most likely half-open. */
  onFenced: () => void;
}

/** The fence's handle. */
export interface SelfFence {
  /** Re-times the next round: after a frame, a started pod, or the link's start. */
  arm(): void;
  /** The allocator was heard: pods fenced before count as new should they run again. */
  heard(): void;
  /** The shortest `rescheduleAfterMs` of a live pod not yet fenced; null when every pod is `keep`. */
  shortestMs(): number | null;
  /** No more rounds. */
  stop(): void;
}

/** Creates the fence; nothing is timed until `arm()`. */
export function createSelfFence(deps: SelfFenceDeps): SelfFence {
  const { agent, applier, log } = deps;
  // `podId#epoch` of the pods stopped for want of the allocator, so a later round skips them.
  const fenced = new Set<string>();
  let cancel: () => void = () => {};
  let stopped = false;

  const reschedulable = (): { key: string; afterMs: number }[] =>
    agent.status().pods.flatMap((p) => {
      const key = `${p.podId}#${p.epoch}`;
      return mayStillRun(p) && p.rescheduleAfterMs !== null && !fenced.has(key)
        ? [{ key, afterMs: p.rescheduleAfterMs }]
        : [];
    });

  const round = (): void => {
    const silentMs = deps.now() - deps.lastHeardMs();
    const due = new Set(reschedulable().flatMap((p) => (silentMs >= p.afterMs ? [p.key] : [])));
    if (due.size > 0) {
      for (const key of due) fenced.add(key);
      const reason = `lease lost: cut off from the allocator for ${silentMs} ms (disconnect policy: reschedule)`;
      log.warn('fencing: stopping the pods whose disconnect policy reschedules them', {
        silentMs,
        pods: [...due].join(','),
      });
      applier
        .stopLivePods((p) => (due.has(`${p.podId}#${p.epoch}`) ? reason : null))
        .catch((e: unknown) => log.error('fencing stop failed', { error: String(e) }));
      deps.onFenced();
    }
    arm();
  };

  function arm(): void {
    cancel();
    if (stopped) return;
    const after = reschedulable().map((p) => p.afterMs);
    if (after.length === 0) return;
    cancel = deps.setTimer(round, Math.max(0, deps.lastHeardMs() + Math.min(...after) - deps.now()));
  }

  return {
    arm,
    heard: () => fenced.clear(),
    shortestMs() {
      const after = reschedulable().map((p) => p.afterMs);
      return after.length === 0 ? null : Math.min(...after);
    },
    stop() {
      stopped = true;
      cancel();
    },
  };
}
