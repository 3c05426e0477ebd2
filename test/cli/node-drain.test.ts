/** `drainAndWait`: calls the drain route until the node is empty or the timeout passes, then says where the work went. */
import { describe, expect, it } from 'vitest';
import type { DrainReport } from '../../cli/client/views.ts';
import { drainAndWait, drainText } from '../../cli/commands/node-drain.ts';

const pod = (workload: string, podName: string) => ({
  workloadId: `id-${workload}`,
  workload,
  project: 'vision',
  pod: podName,
  phase: 'Running',
  preemptible: true,
});

/** A client answering the drain route with `reports` in turn (the last one repeated) and workloads by id. */
function fakeClient(reports: DrainReport[], workloads: Record<string, unknown>) {
  const calls: string[] = [];
  let i = 0;
  return {
    calls,
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      calls.push(`${method} ${path} ${JSON.stringify(body ?? null)}`);
      if (path.endsWith('/drain')) return reports[Math.min(i++, reports.length - 1)] as T;
      return workloads[path.slice('/workloads/'.length)] as T;
    },
  };
}

const empty = { node: 'n1', evicted: [], stopping: [], held: [], drained: false };

describe('drainAndWait', () => {
  it('calls again while pods leave, keeps every eviction, and reports where each workload runs now', async () => {
    const client = fakeClient(
      [
        { ...empty, evicted: [{ ...pod('a', 'a-0'), requeued: true }], stopping: [pod('a', 'a-0')] },
        { ...empty, evicted: [{ ...pod('b', 'b-0'), requeued: false }], stopping: [pod('b', 'b-0')] },
        { ...empty, drained: true },
      ],
      {
        'id-a': { phase: 'Running', pods: [{ node: 'n2', phase: 'Running' }] },
        'id-b': { phase: 'Pending', pods: [{ node: 'n1', phase: 'Stopped' }] },
      },
    );
    let t = 0;
    const r = await drainAndWait(client, 'n1', {
      force: true,
      timeoutMs: 60_000,
      now: () => t,
      sleep: async (ms) => {
        t += ms;
      },
    });
    expect(client.calls.filter((c) => c.startsWith('POST'))).toEqual(
      Array(3).fill('POST /nodes/n1/drain {"force":true}'),
    );
    expect(r).toMatchObject({ drained: true, elapsedMs: 2000, left: [] });
    expect(r.moved).toEqual([
      { workload: 'a', project: 'vision', pod: 'a-0', requeued: true, phase: 'Running', nodes: ['n2'] },
      { workload: 'b', project: 'vision', pod: 'b-0', requeued: false, phase: 'Pending', nodes: [] },
    ]);
    expect(drainText(r)).toMatch(/a\s+vision\s+a-0\s+Running on n2/);
  });

  it('stops at the timeout with what is held and why', async () => {
    const held = { ...pod('k', 'k-0'), preemptible: false, hold: 'non-preemptible' as const };
    const client = fakeClient([{ ...empty, held: [held] }], {});
    let t = 0;
    const r = await drainAndWait(client, 'n1', {
      force: false,
      timeoutMs: 3000,
      now: () => t,
      sleep: async (ms) => {
        t += ms;
      },
    });
    expect(r.drained).toBe(false);
    expect(r.elapsedMs).toBe(3000);
    expect(r.left).toEqual([held]);
    expect(drainText(r)).toMatch(/k\s+vision\s+k-0\s+non-preemptible: waits until it ends, or drain --force/);
  });
});
