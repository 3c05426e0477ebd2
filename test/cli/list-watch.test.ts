/** `tessera list --watch` and `-o wide`: re-rendering until stopped, and the wide columns. */
import { describe, expect, it } from 'vitest';
import type { WorkloadView } from '../../cli/client/views.ts';
import { renderList, watchList } from '../../cli/commands/list.ts';
import { bufferIo } from '../../cli/io.ts';

const NOW = Date.parse('2026-01-01T00:10:00Z');

function workload(phase: string, node: string | null): WorkloadView {
  return {
    id: 'w1',
    name: 'resnet',
    project: 'vision',
    type: 'training',
    phase,
    replicas: 1,
    restarts: 0,
    createdAt: '2026-01-01T00:00:00Z',
    resources: { gpu: { kind: 'devices', count: 1 }, cpuMillis: 0, memoryMiB: 0 },
    pods:
      node === null
        ? []
        : [
            {
              name: 'resnet-0',
              node,
              phase: 'Running',
              gpus: [{ uuid: 'GPU-aa', fraction: 1, memoryMiB: 0, memoryLimitMiB: 0 }],
              exitCode: null,
            },
          ],
  } as unknown as WorkloadView;
}

describe('tessera list -o wide', () => {
  it('adds the nodes and GPU uuids the pods hold', () => {
    const out = renderList([workload('Running', 'n1')], 'wide', NOW);
    expect(out).toMatch(/NAME\s+PROJECT\s+TYPE\s+PHASE\s+PODS\s+RESTARTS\s+GPUS\s+NODES\s+GPU UUIDS\s+AGE/);
    expect(out).toMatch(/resnet\s+vision\s+training\s+Running\s+1\/1\s+0\s+1\s+n1\s+GPU-aa\s+10m/);
    expect(renderList([workload('Pending', null)], 'wide', NOW)).toMatch(/Pending\s+0\/1\s+0\s+1\s+-\s+-/);
  });
});

describe('tessera list --watch', () => {
  it('re-renders on every interval with fresh data until stopped', async () => {
    const io = bufferIo();
    const stop = new AbortController();
    const answers = [[workload('Pending', null)], [workload('Running', 'n1')], [workload('Running', 'n1')]];
    let calls = 0;
    const client = {
      list: async <T>(path: string): Promise<T[]> => {
        expect(path).toBe('/workloads?project=vision');
        const a = answers[Math.min(calls, answers.length - 1)];
        calls += 1;
        if (calls === 3) stop.abort();
        return a as T[];
      },
    };
    const renders = await watchList(client, '/workloads?project=vision', io, 'table', {
      signal: stop.signal,
      intervalMs: 5,
      now: () => NOW,
    });
    expect(renders).toBe(2);
    expect(io.stdout.match(/^Every 0.005s: /gm)).toHaveLength(2);
    expect(io.stdout).toMatch(/Pending[\s\S]*Running/);
  });

  it('returns at once when stopped before the first render', async () => {
    const stop = new AbortController();
    stop.abort();
    const io = bufferIo();
    const renders = await watchList({ list: async <T>() => [] as T[] }, '/workloads', io, 'json', {
      signal: stop.signal,
    });
    expect(renders).toBe(0);
    expect(io.stdout).toBe('');
  });
});
