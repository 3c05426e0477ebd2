import { describe, expect, it } from 'vitest';
import { decideMemoryLimits } from '../../../agent/enforce/memory-limit.ts';
import { grant, pod, sample } from './helpers.ts';

describe('decideMemoryLimits', () => {
  it('kills a pod over its limit with the numbers, and touches no other pod', () => {
    const pods = [
      pod('p', [10, 11], [grant('GPU-x', 4096)]),
      pod('q', [20], [grant('GPU-x', 4096, 8192)]),
      pod('r', [30], [grant('GPU-y', 2048)]),
    ];
    // p: two processes, 3000 + 2200 = 5200 > 4096. q: 8000 <= its limit 8192. r: at its limit exactly.
    const s = sample([
      ['GPU-x', 10, 3000],
      ['GPU-x', 11, 2200],
      ['GPU-x', 20, 8000],
      ['GPU-y', 30, 2048],
    ]);
    const d = decideMemoryLimits(s, pods);
    expect(d.actions).toEqual([
      {
        action: 'kill',
        podId: 'p',
        event: {
          atMs: 1000,
          kind: 'gpu-oom-kill',
          podId: 'p',
          gpuUuid: 'GPU-x',
          reason: 'GPU OOM: pod p used 5200 MiB on GPU-x, over its limit of 4096 MiB',
          usedMiB: 5200,
          limitMiB: 4096,
          requestMiB: 4096,
        },
      },
    ]);
  });

  it('sums a pod over its processes, so forked workers cannot multiply its share', () => {
    const pods = [pod('p', [1, 2, 3], [grant('GPU-x', 3000)])];
    const d = decideMemoryLimits(
      sample([
        ['GPU-x', 1, 1000],
        ['GPU-x', 2, 1000],
        ['GPU-x', 3, 1001],
      ]),
      pods,
    );
    expect(d.actions.map((a) => a.event.usedMiB)).toEqual([3001]);
  });

  it('never kills processes no pod owns, and reports them', () => {
    const pods = [pod('p', [10], [grant('GPU-x', 4096)])];
    const d = decideMemoryLimits(
      sample([
        ['GPU-x', 10, 1000],
        ['GPU-x', 999, 70000],
      ]),
      pods,
    );
    expect(d.actions).toEqual([]);
    expect(d.unknown).toEqual([{ gpuUuid: 'GPU-x', pid: 999, usedMiB: 70000 }]);
  });

  it('treats memory on a GPU the pod has no grant for as over a limit of 0', () => {
    const pods = [pod('p', [10], [grant('GPU-x', 4096)])];
    const d = decideMemoryLimits(sample([['GPU-y', 10, 300]]), pods);
    expect(d.actions.map((a) => a.event.reason)).toEqual([
      'GPU OOM: pod p used 300 MiB on GPU-y, over its limit of 0 MiB (no grant on that GPU)',
    ]);
  });

  it('kills a pod over on two GPUs once, naming the first GPU in uuid order', () => {
    const pods = [pod('p', [10, 11], [grant('GPU-b', 100), grant('GPU-a', 100)])];
    const d = decideMemoryLimits(
      sample([
        ['GPU-b', 11, 500],
        ['GPU-a', 10, 200],
      ]),
      pods,
    );
    expect(d.actions).toHaveLength(1);
    expect(d.actions[0]?.event.gpuUuid).toBe('GPU-a');
  });

  it('ignores rows whose memory the driver does not report, and pods that are no longer live', () => {
    const exited = { ...pod('e', [5], [grant('GPU-x', 10)]), state: 'exited' as const };
    const pods = [pod('p', [10], [grant('GPU-x', 100)]), exited];
    const d = decideMemoryLimits(
      sample([
        ['GPU-x', 10, null],
        ['GPU-x', 5, 9999],
      ]),
      pods,
    );
    expect(d.actions).toEqual([]);
    // The exited pod's leftover process is someone else's now: reported, not acted on.
    expect(d.unknown.map((u) => u.pid)).toEqual([5]);
  });
});
