/** The agent's Prometheus exposition: names, labels, units, counters that only go up, no stale series. */
import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createAgentMetrics, type MetricsView } from '../../agent/metrics.ts';

const MIB = 1024 * 1024;

function view(partial: Partial<MetricsView> = {}): MetricsView {
  return {
    gpus: [
      {
        uuid: 'GPU-a',
        index: 0,
        model: 'NVIDIA H100 80GB HBM3',
        utilizationPct: 45,
        memoryUsedMiB: 3000,
        memoryTotalMiB: 81559,
        temperatureC: 51,
        powerDrawW: 312.5,
      },
    ],
    podMemory: [{ podId: 'train-0', gpuUuid: 'GPU-a', usedMiB: 3000 }],
    oomKills: 1,
    reclaimKills: 2,
    reclaimSwaps: 3,
    swapsOut: 4,
    swapsIn: 5,
    swapRefusals: 6,
    slicePauses: 7,
    swapPoolUsedMiB: 512,
    swapPoolCapacityMiB: 32768,
    ...partial,
  };
}

/** The sample lines (no HELP / TYPE) of the exposition. */
async function samples(m: ReturnType<typeof createAgentMetrics>): Promise<string[]> {
  return (await m.text()).split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}

describe('agent metrics', () => {
  it('exposes GPU, pod, swap and enforcement series with Prometheus names, labels and base units', async () => {
    const m = createAgentMetrics();
    m.update(view());
    const gpu = 'gpu="GPU-a",index="0",model="NVIDIA H100 80GB HBM3"';
    expect(await samples(m)).toEqual([
      `tessera_gpu_utilization_ratio{${gpu}} 0.45`,
      `tessera_gpu_memory_used_bytes{${gpu}} ${3000 * MIB}`,
      `tessera_gpu_memory_total_bytes{${gpu}} ${81559 * MIB}`,
      `tessera_gpu_temperature_celsius{${gpu}} 51`,
      `tessera_gpu_power_watts{${gpu}} 312.5`,
      `tessera_pod_gpu_memory_used_bytes{pod="train-0",gpu="GPU-a"} ${3000 * MIB}`,
      `tessera_swap_pool_used_bytes ${512 * MIB}`,
      `tessera_swap_pool_capacity_bytes ${32768 * MIB}`,
      'tessera_gpu_oom_kills_total 1',
      'tessera_gpu_reclaims_total{action="kill"} 2',
      'tessera_gpu_reclaims_total{action="swap"} 3',
      'tessera_gpu_swaps_total{direction="out"} 4',
      'tessera_gpu_swaps_total{direction="in"} 5',
      'tessera_gpu_swap_refusals_total 6',
      'tessera_timeslice_pauses_total 7',
    ]);
    const text = await m.text();
    expect(text).toContain('# TYPE tessera_gpu_oom_kills_total counter');
    expect(text).toContain('# TYPE tessera_gpu_memory_used_bytes gauge');
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('advances counters by the difference and never lowers them; zero counters are exposed from the start', async () => {
    const m = createAgentMetrics();
    m.update(view({ oomKills: 0, swapsIn: 0 }));
    expect(await samples(m)).toContain('tessera_gpu_oom_kills_total 0');
    m.update(view({ oomKills: 3 }));
    m.update(view({ oomKills: 2 }));
    expect(await samples(m)).toContain('tessera_gpu_oom_kills_total 3');
    expect(await samples(m)).toContain('tessera_gpu_swaps_total{direction="in"} 5');
  });

  it('drops the series of a pod that ended and of readings the driver reports as N/A', async () => {
    const m = createAgentMetrics();
    m.update(view());
    const gpu = view().gpus[0]!;
    m.update(view({ podMemory: [], gpus: [{ ...gpu, temperatureC: null, powerDrawW: null }] }));
    const lines = await samples(m);
    expect(lines.some((l) => l.startsWith('tessera_pod_gpu_memory_used_bytes'))).toBe(false);
    expect(lines.some((l) => l.startsWith('tessera_gpu_temperature_celsius'))).toBe(false);
    expect(lines.some((l) => l.startsWith('tessera_gpu_utilization_ratio'))).toBe(true);
  });

  it('keeps to its own registry: two agents in one process do not collide, the global one stays empty', async () => {
    const a = createAgentMetrics();
    const b = createAgentMetrics();
    a.update(view({ oomKills: 1 }));
    b.update(view({ oomKills: 9 }));
    expect(await samples(a)).toContain('tessera_gpu_oom_kills_total 1');
    expect(await samples(b)).toContain('tessera_gpu_oom_kills_total 9');
    expect(await globalRegistry.metrics()).not.toContain('tessera_');
  });
});
