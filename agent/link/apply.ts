/**
 * The allocator's orders applied under the epoch rule (docs/architecture.md §5): a StartPod must be newer than
 * any epoch seen for its pod, a StopPod or Swap not older. Also the stops that fencing and a Welcome's
 * desired set call for. Split from `client.ts`, which owns the socket and the timers.
 */
import { formatError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { StartPod, StopPod, Swap } from '../../common/wire.ts';
import type { AgentPodStatus } from '../api.ts';
import { mayStillRun, podSpecFromWire } from './map.ts';
import type { LinkAgent } from './types.ts';

/** What `createApplier` hands the link. */
export interface Applier {
  onStartPod(s: StartPod): Promise<void>;
  onStopPod(s: StopPod): Promise<void>;
  onSwap(s: Swap): Promise<void>;
  /** Stops every live pod `why` gives a reason for (null keeps it). */
  stopLivePods(why: (p: { podId: string; epoch: number }) => string | null): Promise<void>;
  /** Records the epochs of the pods reported in a Hello, so older orders stay ignored. */
  notePods(pods: readonly AgentPodStatus[]): void;
}

export function createApplier(deps: { agent: LinkAgent; log: Logger; sendStatus: () => void }): Applier {
  const { agent, log, sendStatus } = deps;
  // Newest epoch acted on per pod, beyond what the agent itself reports (a stop leaves no pod behind).
  const epochs = new Map<string, number>();

  const newestEpoch = (podId: string): number => {
    let e = epochs.get(podId) ?? -1;
    for (const p of agent.status().pods) if (p.podId === podId) e = Math.max(e, p.epoch);
    return e;
  };

  const stopPod = async (podId: string, reason: string, graceSeconds?: number): Promise<void> => {
    const r = await agent.stopPod(podId, reason, graceSeconds);
    if (!r.ok) log.warn('stop refused', { podId, reason, error: formatError(r.error) });
  };

  return {
    stopLivePods: (why) =>
      Promise.all(
        agent
          .status()
          .pods.filter(mayStillRun)
          .flatMap((p) => {
            const reason = why(p);
            return reason === null ? [] : [stopPod(p.podId, reason)];
          }),
      ).then(() => {}),

    notePods(pods) {
      for (const p of pods) epochs.set(p.podId, Math.max(epochs.get(p.podId) ?? p.epoch, p.epoch));
    },

    async onStartPod(s) {
      const seen = newestEpoch(s.podId);
      if (s.epoch <= seen) {
        log.info('StartPod ignored: not newer than the epoch seen', { podId: s.podId, epoch: s.epoch, seen });
        return;
      }
      epochs.set(s.podId, s.epoch);
      const older = agent.status().pods.find((p) => p.podId === s.podId && mayStillRun(p));
      if (older !== undefined) await stopPod(s.podId, `superseded by epoch ${s.epoch}`);
      const r = agent.startPod(podSpecFromWire(s));
      if (!r.ok) log.warn('StartPod refused by the agent', { podId: s.podId, error: formatError(r.error) });
      sendStatus();
    },

    async onStopPod(s) {
      const seen = newestEpoch(s.podId);
      if (s.epoch < seen) {
        log.info('StopPod ignored: older than the epoch seen', { podId: s.podId, epoch: s.epoch, seen });
        return;
      }
      epochs.set(s.podId, s.epoch);
      await stopPod(s.podId, s.reason, s.graceSeconds);
      sendStatus();
    },

    async onSwap(s) {
      const seen = newestEpoch(s.podId);
      if (s.epoch < seen) {
        log.info('Swap ignored: older than the epoch seen', { podId: s.podId, epoch: s.epoch, seen });
        return;
      }
      const r = await agent.swap(s.podId, s.direction);
      if (!r.ok)
        log.warn('swap refused', { podId: s.podId, direction: s.direction, error: formatError(r.error) });
      sendStatus();
    },
  };
}
