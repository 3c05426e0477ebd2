/**
 * What enforcement sees of the runner's pods on each sample: grants, priority, state and pids.
 * Pids come from a /proc scan, so they are read only for samples that have GPU processes to
 * attribute: an idle node's samples cost no /proc scan at all.
 */
import { type EnforcedPod, LIVE_STATES } from './enforce/index.ts';
import type { Runner } from './runner/index.ts';

/** The enforcer's pod list, built from the runner, and the last one built (for usage attribution). */
export function createPodViews(runner: Pick<Runner, 'list' | 'specOf' | 'pidsOf'>): {
  build(): EnforcedPod[];
  last(): EnforcedPod[];
  wantPids(on: boolean): void;
} {
  let wantPids = false;
  let last: EnforcedPod[] = [];
  return {
    build() {
      last = runner.list().flatMap((s) => {
        const spec = runner.specOf(s.podId);
        if (spec === undefined) return [];
        const live = LIVE_STATES.has(s.state);
        return [
          {
            podId: s.podId,
            priority: spec.priority,
            grants: spec.grants,
            state: s.state,
            pids: live && wantPids ? runner.pidsOf(s.podId) : [],
          },
        ];
      });
      return last;
    },
    last: () => last,
    wantPids(on) {
      wantPids = on;
    },
  };
}
