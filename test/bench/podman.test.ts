import { afterAll, describe, expect, it } from 'vitest';
import { parsePodmanArgs, summarize, timePodmanRuns } from '../../bench/podman.ts';
import { ensureTestImages } from '../helpers/images.ts';
import { podmanUnavailableReason, removeTestContainers } from '../helpers/podman.ts';

const unavailable = podmanUnavailableReason();
if (unavailable !== null) console.warn(unavailable);

describe('podman bench figures', () => {
  it('summarizes timings as nearest-rank p50 and p99 with min and max', () => {
    const ms = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(summarize(ms)).toEqual({ p50: 50, p99: 99, min: 1, max: 100 });
    expect(() => summarize([])).toThrow(/no timings/);
  });

  it('reads --runs, and ignores a value that is not a positive integer', () => {
    expect(parsePodmanArgs(['--runs', '5'])).toEqual({ runs: 5 });
    expect(parsePodmanArgs(['--runs', '0'])).toEqual({});
    expect(parsePodmanArgs([])).toEqual({});
  });
});

describe.skipIf(unavailable !== null)('timePodmanRuns', () => {
  afterAll(() => removeTestContainers());

  it('times each run of the busybox image, and a run that fails throws rather than counting', async () => {
    const { busybox } = await ensureTestImages();
    const ms = await timePodmanRuns({ image: busybox, command: ['true'] }, 2);
    expect(ms).toHaveLength(2);
    for (const m of ms) expect(m).toBeGreaterThan(0);
    await expect(timePodmanRuns({ image: busybox, command: ['false'] }, 1)).rejects.toThrow(/exited 1/);
  }, 600_000);
});
