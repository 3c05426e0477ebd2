import { describe, expect, it } from 'vitest';
import { PLACEMENTS } from '../../allocator/api/org-routes.ts';
import { SCHEDULED_POD_PHASES } from '../../allocator/store/pods.ts';
import { canTransition, WORKLOAD_PHASES } from '../../common/phases.ts';
import { PRIORITY_CLASSES, WORKLOAD_TYPES } from '../../common/workload.ts';
import { PULL_POLICIES } from '../../common/workload-container.ts';

/** The console's constants.js, loaded as Node loads any ES module (it touches no DOM). */
async function consoleConstants(): Promise<Record<string, unknown>> {
  const url = new URL('../../web/constants.js', import.meta.url).href;
  return (await import(/* @vite-ignore */ url)) as Record<string, unknown>;
}

describe('web/constants.js', () => {
  it("holds exactly common/'s phase, type and priority lists (the browser cannot load the TypeScript)", async () => {
    const c = await consoleConstants();
    expect(c.WORKLOAD_PHASES).toEqual([...WORKLOAD_PHASES]);
    expect(c.WORKLOAD_TYPES).toEqual([...WORKLOAD_TYPES]);
    expect(c.PRIORITY_CLASSES).toEqual([...PRIORITY_CLASSES]);
    expect(c.PULL_POLICIES).toEqual([...PULL_POLICIES]);
  });

  it("offers exactly the API's node pool placement strategies", async () => {
    expect((await consoleConstants()).PLACEMENTS).toEqual([...PLACEMENTS]);
  });

  it("knows a placed pod by the store's own phases", async () => {
    expect((await consoleConstants()).SCHEDULED_POD_PHASES).toEqual([...SCHEDULED_POD_PHASES]);
  });

  it('offers Stop exactly in the phases the phase machine may stop from', async () => {
    const c = await consoleConstants();
    expect(c.STOPPABLE).toEqual(WORKLOAD_PHASES.filter((p) => canTransition(p, 'Stopped')));
  });
});
