/** The scheduler's thread: it plans over its own connection what runCycle plans inline, and survives a failed request. */
import { afterEach, describe, expect, it } from 'vitest';
import { runCycle } from '../../../allocator/scheduler/cycle.ts';
import { type CycleWorker, startCycleWorker } from '../../../allocator/service/cycle-worker.ts';
import { createGpuSampleCache, samplesFromFlat } from '../../../allocator/service/gpu-samples.ts';
import { readHistorySample } from '../../../allocator/service/history-sampler.ts';
import { listNodes } from '../../../allocator/store/nodes.ts';
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

  it('builds the usage history sample on its thread, as readHistorySample does inline', async () => {
    const dir = tempDir();
    const db = openTemp(dir);
    smallOrg(db);
    const cache = createGpuSampleCache();
    const nodes = listNodes(db);
    expect(nodes.length).toBeGreaterThan(0);
    nodes.forEach((n, i) => {
      cache.record(
        n.name,
        n.gpus.map((g) => ({
          ...{ uuid: g.uuid, index: g.index, utilizationPct: 10 * (i + 1), memoryUsedMiB: 100 },
          ...{ memoryTotalMiB: null, temperatureC: 40, powerDrawW: 300 },
        })),
        T0,
      );
    });
    // The compact form carries what the history reads: each GPU by index (its uuid from the store), its utilization.
    const back = samplesFromFlat(cache.flat(), nodes);
    for (const n of nodes) {
      const was = cache.get(n.name);
      expect(back.get(n.name)?.atMs).toBe(T0);
      expect(back.get(n.name)?.samples.map((s) => [s.uuid, s.index, s.utilizationPct])).toEqual(
        was?.samples.map((s) => [s.uuid, s.index, s.utilizationPct]),
      );
    }
    const w = startCycleWorker({ dataDir: dir });
    workers.push(w);
    const sample = await w.history(cache.flat());
    expect(sample).toEqual(readHistorySample(db, () => back));
    expect(sample.get('node')?.get(nodes[0]?.name ?? '')?.utilizationPct).toBe(10);
  });
});
