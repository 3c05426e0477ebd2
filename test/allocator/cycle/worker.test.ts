/** The scheduler's thread: it plans over its own connection what runCycle plans inline, and survives a failed request. */
import { afterEach, describe, expect, it } from 'vitest';
import { runCycle } from '../../../allocator/scheduler/cycle.ts';
import { type CycleWorker, startCycleWorker } from '../../../allocator/service/cycle-worker.ts';
import { buildSnapshot } from '../../../allocator/store/snapshot.ts';
import { submitWorkload } from '../../../allocator/store/workloads.ts';
import { NEVER_PAUSE } from '../../../common/slicer.ts';
import { must, openTemp, smallOrg, T0, tempDir } from '../store/helpers.ts';

const workers: CycleWorker[] = [];
afterEach(async () => {
  for (const w of workers.splice(0)) await w.close();
});

describe('startCycleWorker', () => {
  it('plans on its own thread what runCycle plans inline over the same store', async () => {
    const dir = tempDir();
    const db = openTemp(dir);
    smallOrg(db);
    for (let i = 0; i < 5; i++)
      must(
        submitWorkload(
          db,
          {
            name: `t${i}`,
            project: 'vision',
            type: 'training',
            command: ['x'],
            resources: { gpuDevices: 1 },
          },
          T0 + i,
          { id: `w${i}` },
        ),
      );
    const w = startCycleWorker({ dataDir: dir });
    workers.push(w);
    const made = await w.plan(T0 + 100, [], NEVER_PAUSE);
    const inline = runCycle(buildSnapshot(db, T0 + 100));
    expect(made.plan.binds).toEqual(inline.binds);
    expect(made.plan.pending).toEqual(inline.pending);
    expect(made.plan.shares).toEqual(inline.shares);
    expect(made.queues.map((q) => q.name)).toEqual(['research', 'vision', 'nlp']);
    // The second read reuses the first's nodes and specs.
    const again = await w.plan(T0 + 200, [], NEVER_PAUSE);
    expect(again.stats.nodesParsed).toBe(0);
    expect(again.stats.specsParsed).toBe(0);
  });
});
