/** The swap pool's record: the file round trip, a corrupt file, and the checks of re-adoption. */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CheckpointState } from '../../agent/gpu/driver.ts';
import {
  type ReadoptChecks,
  readoptSwapped,
  readSwapFile,
  type SwapRecord,
  swapFilePath,
  toSwapRecords,
  writeSwapFile,
} from '../../agent/swap-file.ts';
import { err, ok, type Result, tesseraError } from '../../common/errors.ts';

let dir = '';
afterEach(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
  dir = '';
});

function record(podId: string, pids: [number, number | null][], usedMiB = 1000): SwapRecord {
  return {
    podId,
    pids: pids.map(([pid, startTimeTicks]) => ({ pid, startTimeTicks })),
    usedMiB,
    perGpuMiB: { 'GPU-x': usedMiB },
    reason: 'idle',
    sinceMs: 5,
  };
}

/** Checks over a made-up node: `live` pid -> start time, `states` pid -> what the driver says. */
function checks(
  live: Record<number, number>,
  states: Record<number, CheckpointState | 'unknown'>,
  pods = ['a', 'b', 'c', 'd'],
): ReadoptChecks {
  return {
    podLive: (podId) => pods.includes(podId),
    isLive: (pid, ticks) => live[pid] === ticks,
    async checkpointState(pid): Promise<Result<CheckpointState>> {
      const s = states[pid] ?? 'unknown';
      return s === 'unknown' ? err(tesseraError('TESSERA_E_GPU_DRIVER', 'cuda-checkpoint not found')) : ok(s);
    },
  };
}

describe('swap pool record', () => {
  it('round-trips entries with each pid start time, and reads no file as none', () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-swap-file-'));
    expect(readSwapFile(dir)).toEqual({ ok: true, value: [] });
    const entries = [
      { podId: 'a', pids: [10, 11], usedMiB: 3, perGpuMiB: { g: 3 }, reason: 'r', sinceMs: 1 },
    ];
    const records = toSwapRecords(entries, (pid) => (pid === 10 ? 777 : null));
    expect(writeSwapFile(dir, records).ok).toBe(true);
    expect(readSwapFile(dir)).toEqual({
      ok: true,
      value: [
        {
          podId: 'a',
          pids: [
            { pid: 10, startTimeTicks: 777 },
            { pid: 11, startTimeTicks: null },
          ],
          usedMiB: 3,
          perGpuMiB: { g: 3 },
          reason: 'r',
          sinceMs: 1,
        },
      ],
    });
  });

  it('moves a corrupt record aside and says what that means for the pods it named', () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-swap-file-'));
    writeFileSync(swapFilePath(dir), '{"version":1,"entries":[{"podId":""}]}');
    const r = readSwapFile(dir, () => 42);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.message).toContain(`moved aside to ${swapFilePath(dir)}.corrupt-42`);
      expect(r.error.message).toContain('cuda-checkpoint --toggle');
    }
    expect(existsSync(swapFilePath(dir))).toBe(false);
    expect(readdirSync(dir)).toEqual(['swap-pool.json.corrupt-42']);
  });

  it('takes back what still holds and drops stale entries: reused pids, restored or locked processes, ended pods', async () => {
    const r = await readoptSwapped(
      [
        record('a', [
          [1, 100],
          [2, 200],
        ]),
        record('b', [[3, 300]]),
        record('c', [
          [4, 400],
          [5, null],
        ]),
        record('d', [[6, 600]]),
        record('e', [[7, 700]]),
      ],
      checks(
        { 1: 100, 2: 999, 3: 300, 4: 400, 6: 600, 7: 700 },
        { 1: 'checkpointed', 3: 'running', 6: 'locked' },
      ),
      true,
    );
    // a keeps pid 1 (pid 2 now names another process); c's pid 4 is kept as the driver cannot tell.
    expect(r.adopted.map((e) => [e.podId, e.pids])).toEqual([
      ['a', [1]],
      ['c', [4]],
    ]);
    expect(r.events.map((e) => [e.kind, e.podId, e.reason])).toEqual([
      [
        'swap-adopted',
        'a',
        'pod a is still swapped out (1000 MiB, pids 1): taken back into the pool (pid 2 is gone or names another process now)',
      ],
      ['swap-not-adopted', 'b', 'stale swap entry dropped: pod b: pid 3 is running, not checkpointed'],
      [
        'swap-adopted',
        'c',
        'pod c is still swapped out (1000 MiB, pids 4): taken back into the pool (pid 5 is gone or names another process now)',
      ],
      [
        'swap-not-adopted',
        'd',
        'stale swap entry dropped: pod d: pid 6 is locked, not checkpointed: resume it with `cuda-checkpoint --action unlock --pid 6`',
      ],
      ['swap-not-adopted', 'e', 'stale swap entry dropped: pod e is no longer running'],
    ]);
  });

  it('takes nothing back with swap off, and reports each pod as left swapped out', async () => {
    const r = await readoptSwapped(
      [record('a', [[1, 100]])],
      checks({ 1: 100 }, { 1: 'checkpointed' }),
      false,
    );
    expect(r.adopted).toEqual([]);
    expect(r.events).toEqual([
      {
        kind: 'swap-not-adopted',
        podId: 'a',
        usedMiB: 1000,
        reason:
          'pod a was left swapped out by the previous agent, but swap is off on this one: its processes stay checkpointed until an agent started with --swap-pool swaps it in',
      },
    ]);
  });
});
