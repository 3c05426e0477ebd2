/**
 * The scheduler never writes its input: the snapshot reader shares node, spec and grant objects
 * between cycles (allocator/store/snapshot.ts), and the scheduler's thread reuses them, so one write
 * would leak into every later cycle. A deep-frozen snapshot makes any write throw (ES modules are
 * strict), and the plan is the one the same snapshot gives unfrozen.
 */
import { describe, expect, it } from 'vitest';
import { runCycle } from '../../../allocator/scheduler/cycle.ts';
import type { PlacementStrategy } from '../../../allocator/scheduler/snapshot.ts';
import { syntheticCluster } from '../../../bench/synthetic.ts';

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

describe('runCycle over a frozen snapshot', () => {
  const strategies: PlacementStrategy[] = ['binpack', 'spread', 'fragmentation-aware'];
  for (const placement of strategies) {
    it(`never writes its input (${placement}, running work, two pools)`, () => {
      const make = () =>
        syntheticCluster({
          nodes: 40,
          gpusPerNode: 8,
          pending: 400,
          projects: 6,
          departments: 2,
          seed: 11,
          placement,
          running: 0.85,
          secondPool: { nodes: 10, placement },
        });
      const plan = runCycle(deepFreeze(make()));
      expect(plan.binds.length + plan.evictions.length).toBeGreaterThan(0);
      expect(JSON.stringify(plan)).toBe(JSON.stringify(runCycle(make())));
    });
  }
});
