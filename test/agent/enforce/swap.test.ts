import { describe, expect, it } from 'vitest';
import { createSwapPool, pickIdleVictims } from '../../../agent/enforce/swap.ts';
import type { SwapControl } from '../../../agent/enforce/types.ts';
import { err, ok, type Result, tesseraError } from '../../../common/errors.ts';

const MISSING =
  'cuda-checkpoint not found on PATH: GPU swap needs it (NVIDIA driver 550 or newer ships it); swap is off';

/** A SwapControl that records calls; `failOn` makes one pid's checkpoint or restore fail. */
function fakeControl(opts: { supported?: boolean; failCheckpoint?: number; failRestore?: number } = {}) {
  const calls: string[] = [];
  const fail = (what: string): Result<true> => err(tesseraError('TESSERA_E_INTERNAL', what));
  const control: SwapControl = {
    async swapSupport() {
      calls.push('support');
      return opts.supported === false ? fail(MISSING) : ok(true);
    },
    async checkpoint(pid) {
      calls.push(`checkpoint ${pid}`);
      return pid === opts.failCheckpoint ? fail(`process ${pid} is not using CUDA`) : ok(true);
    },
    async restore(pid) {
      calls.push(`restore ${pid}`);
      return pid === opts.failRestore ? fail(`process ${pid} is not checkpointed`) : ok(true);
    },
  };
  return { control, calls };
}

describe('swap pool', () => {
  it('checkpoints every GPU pid of the pod and restores them on swap-in', async () => {
    const { control, calls } = fakeControl();
    const pool = createSwapPool({ capacityMiB: 32768, control, now: () => 5 });
    expect(await pool.swapOut({ podId: 'p', pids: [10, 11] }, 4096, 'idle', { 'GPU-x': 4096 })).toEqual({
      ok: true,
    });
    expect(pool.used()).toBe(4096);
    expect(pool.entries()).toEqual([
      { podId: 'p', pids: [10, 11], usedMiB: 4096, perGpuMiB: { 'GPU-x': 4096 }, reason: 'idle', sinceMs: 5 },
    ]);
    expect(await pool.swapIn('p')).toEqual({ ok: true });
    expect(pool.used()).toBe(0);
    expect(calls).toEqual(['support', 'checkpoint 10', 'checkpoint 11', 'restore 10', 'restore 11']);
  });

  it('refuses when the pool would overflow, with the numbers', async () => {
    const { control, calls } = fakeControl();
    const pool = createSwapPool({ capacityMiB: 32768, control });
    expect(await pool.swapOut({ podId: 'big', pids: [1] }, 30000, 'idle')).toEqual({ ok: true });
    expect(await pool.swapOut({ podId: 'p', pids: [2] }, 4096, 'idle')).toEqual({
      ok: false,
      reason: 'swap pool full: 30000 of 32768 MiB used, pod needs 4096 MiB',
    });
    expect(calls).not.toContain('checkpoint 2');
  });

  it('counts swap-outs in flight against capacity, so two cannot overfill it together', async () => {
    const { control } = fakeControl();
    const pool = createSwapPool({ capacityMiB: 10000, control });
    const [a, b] = await Promise.all([
      pool.swapOut({ podId: 'a', pids: [1] }, 6000, 'idle'),
      pool.swapOut({ podId: 'b', pids: [2] }, 6000, 'idle'),
    ]);
    expect(a).toEqual({ ok: true });
    expect(b).toEqual({ ok: false, reason: 'swap pool full: 6000 of 10000 MiB used, pod needs 6000 MiB' });
  });

  it("refuses with the tool's own message when the checkpoint tool is missing", async () => {
    const { control, calls } = fakeControl({ supported: false });
    const pool = createSwapPool({ capacityMiB: 32768, control });
    expect(await pool.swapOut({ podId: 'p', pids: [2] }, 4096, 'idle')).toEqual({
      ok: false,
      reason: MISSING,
    });
    expect(pool.used()).toBe(0);
    expect(calls).toEqual(['support']);
  });

  it('is all or nothing: a failed checkpoint restores the pids already taken', async () => {
    const { control, calls } = fakeControl({ failCheckpoint: 12 });
    const pool = createSwapPool({ capacityMiB: 32768, control });
    expect(await pool.swapOut({ podId: 'p', pids: [10, 11, 12] }, 4096, 'idle')).toEqual({
      ok: false,
      reason: 'checkpoint of pid 12 (pod p) failed: process 12 is not using CUDA',
    });
    expect(calls).toEqual([
      'support',
      'checkpoint 10',
      'checkpoint 11',
      'checkpoint 12',
      'restore 11',
      'restore 10',
    ]);
    expect(pool.used()).toBe(0);
    expect(pool.has('p')).toBe(false);
  });

  it('keeps a pod whose restore failed, until it is forgotten', async () => {
    const { control } = fakeControl({ failRestore: 11 });
    const pool = createSwapPool({ capacityMiB: 32768, control });
    await pool.swapOut({ podId: 'p', pids: [10, 11] }, 4096, 'idle');
    expect(await pool.swapIn('p')).toEqual({
      ok: false,
      reason: 'restore of pid 11 (pod p) failed: process 11 is not checkpointed',
    });
    expect(pool.entries().map((e) => e.pids)).toEqual([[11]]);
    pool.forget('p');
    expect(pool.used()).toBe(0);
  });

  it('refuses a pod already swapped out, one with no GPU processes, and a swap-in of a pod not there', async () => {
    const { control } = fakeControl();
    const pool = createSwapPool({ capacityMiB: 32768, control });
    await pool.swapOut({ podId: 'p', pids: [1] }, 100, 'idle');
    expect(await pool.swapOut({ podId: 'p', pids: [1] }, 100, 'idle')).toEqual({
      ok: false,
      reason: 'pod p is already swapped out',
    });
    expect(await pool.swapOut({ podId: 'q', pids: [] }, 100, 'idle')).toEqual({
      ok: false,
      reason: 'pod q has no GPU processes to swap out',
    });
    expect(await pool.swapIn('r')).toEqual({ ok: false, reason: 'pod r is not swapped out' });
  });
});

describe('pickIdleVictims', () => {
  const now = 100_000;
  const tenants = [
    { podId: 'busy', lastActiveMs: 99_000, usedMiB: 9000 },
    { podId: 'old', lastActiveMs: 10_000, usedMiB: 2000 },
    { podId: 'older', lastActiveMs: 5_000, usedMiB: 3000 },
    { podId: 'recent', lastActiveMs: 30_000, usedMiB: 8000 },
  ];

  it('reports every change to its entries for the durable record, and adopts entries without a checkpoint', async () => {
    const { control, calls } = fakeControl({ failRestore: 11 });
    const seen: string[][] = [];
    const pool = createSwapPool({
      capacityMiB: 1000,
      control,
      now: () => 5,
      onChange: (entries) => seen.push(entries.map((e) => `${e.podId}:${e.pids.join(',')}`)),
    });
    // Over capacity and never checkpointed here: it is in host RAM already, left there by the last agent.
    pool.adopt({
      podId: 'old',
      pids: [7],
      usedMiB: 4000,
      perGpuMiB: { 'GPU-x': 4000 },
      reason: 'r',
      sinceMs: 1,
    });
    expect(pool.has('old')).toBe(true);
    expect(pool.used()).toBe(4000);
    expect(calls).toEqual([]);
    expect(seen).toEqual([]);
    expect(await pool.swapOut({ podId: 'p', pids: [1] }, 10, 'idle')).toMatchObject({ ok: false });

    expect(await pool.swapIn('old')).toEqual({ ok: true });
    expect(await pool.swapOut({ podId: 'p', pids: [10, 11] }, 500, 'idle')).toEqual({ ok: true });
    expect(await pool.swapIn('p')).toMatchObject({ ok: false }); // pid 10 back, pid 11 still out
    pool.forget('p');
    pool.forget('p');
    expect(seen).toEqual([[], ['p:10,11'], ['p:11'], []]);
  });

  it('takes idle tenants least recently active first, only as many as needed', () => {
    expect(pickIdleVictims(tenants, 4000, now, 60_000)).toEqual({
      victims: [tenants[2], tenants[1]],
      freedMiB: 5000,
      enough: true,
    });
    expect(pickIdleVictims(tenants, 3000, now, 60_000).victims.map((v) => v.podId)).toEqual(['older']);
  });

  it('never takes a tenant active within the window', () => {
    expect(pickIdleVictims(tenants, 13000, now, 60_000).victims.map((v) => v.podId)).toEqual([
      'older',
      'old',
      'recent',
    ]);
  });

  it('chooses nobody when all idle tenants together would not free enough', () => {
    expect(pickIdleVictims(tenants, 14000, now, 60_000)).toEqual({
      victims: [],
      freedMiB: 13000,
      enough: false,
    });
  });

  it('needs nobody when nothing is needed', () => {
    expect(pickIdleVictims(tenants, 0, now, 60_000)).toEqual({ victims: [], freedMiB: 0, enough: true });
  });
});
