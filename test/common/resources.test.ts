import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Result } from '../../common/errors.ts';
import {
  addRes,
  fitsRes,
  formatCpuMillis,
  formatDurationMs,
  formatGpuMilli,
  formatMemoryMiB,
  fractionToMemoryMiB,
  MILLI_PER_GPU,
  memoryToGpuMilli,
  parseCpuMillis,
  parseDurationMs,
  parseGpu,
  parseMemoryMiB,
  type Resources,
  scaleRes,
  subRes,
  zeroRes,
} from '../../common/resources.ts';
import { value } from '../result.ts';

function failure<T>(r: Result<T>) {
  if (r.ok) throw new Error(`expected an error, got ${JSON.stringify(r.value)}`);
  return r.error;
}

describe('parseGpu', () => {
  it.each([
    ['0.5', 500],
    ['500m', 500],
    ['2', 2000],
    [0.25, 250],
    [2, 2000],
    ['0.001', 1],
    ['.5', 500],
    ['1.250', 1250],
    [' 0.75 ', 750],
    [0.29, 290],
    ['0', 0],
  ] as const)('parses %j as %i milli-GPU', (input, milli) => {
    expect(value(parseGpu(input))).toBe(milli);
  });

  it.each([
    ['-1', 'negative'],
    [-0.5, 'negative'],
    [Number.NaN, 'not a number'],
    [Number.POSITIVE_INFINITY, 'not finite'],
    ['0.0005', 'finer than 0.001'],
    [0.0005, 'finer than 0.001'],
    ['abc', 'not a recognised form'],
    ['', 'empty'],
    ['1e3', 'not a recognised form'],
    ['1.5m', 'not a recognised form'],
  ] as const)('refuses %j (%s), naming the input and the accepted forms', (input, why) => {
    const e = failure(parseGpu(input));
    expect(e.code).toBe('TESSERA_E_INVALID_QUANTITY');
    expect(e.message).toContain(typeof input === 'string' ? `"${input}"` : String(input));
    expect(e.message).toContain(why);
    expect(e.message).toContain("'500m'");
  });

  it('names the field when given one', () => {
    const e = failure(parseGpu('x', 'resources.gpuFraction'));
    expect(e.field).toBe('resources.gpuFraction');
    expect(e.message.startsWith('resources.gpuFraction:')).toBe(true);
  });
});

describe('parseCpuMillis', () => {
  it.each([
    ['2', 2000],
    ['500m', 500],
    ['0.5', 500],
    [1.5, 1500],
  ] as const)('parses %j as %i milli-cores', (input, millis) => {
    expect(value(parseCpuMillis(input))).toBe(millis);
  });

  it('refuses negatives and sub-milli precision', () => {
    expect(failure(parseCpuMillis('-2')).code).toBe('TESSERA_E_INVALID_QUANTITY');
    expect(failure(parseCpuMillis('0.0001')).message).toContain('finer than 0.001');
  });
});

describe('parseMemoryMiB', () => {
  it.each([
    [20480, 20480],
    ['20GiB', 20480],
    ['20Gi', 20480],
    ['20000Mi', 20000],
    ['20000MiB', 20000],
    ['512KiB', 1],
    ['1Ki', 1],
    ['1Ti', 1024 * 1024],
    ['1.5Gi', 1536],
    ['1GB', 954],
    ['1G', 954],
    ['100MB', 96],
    ['1M', 1],
    ['1024', 1024],
    [0.5, 1],
    ['0Gi', 0],
  ] as const)('parses %j as %i MiB', (input, mib) => {
    expect(value(parseMemoryMiB(input))).toBe(mib);
  });

  it('rounds SI units up to whole MiB, never down', () => {
    // 1 GB = 10^9 bytes = 953.67 MiB.
    expect(value(parseMemoryMiB('1GB'))).toBe(Math.ceil(1e9 / 2 ** 20));
  });

  it('refuses unknown units, naming the unit and the accepted ones', () => {
    const e = failure(parseMemoryMiB('20gb'));
    expect(e.code).toBe('TESSERA_E_INVALID_QUANTITY');
    expect(e.message).toContain('unknown unit "gb"');
    expect(e.message).toContain('GiB');
    expect(failure(parseMemoryMiB('20m')).message).toContain("write 'Mi'");
  });

  it('refuses negatives and non-numbers', () => {
    expect(failure(parseMemoryMiB('-1Gi')).message).toContain('negative');
    expect(failure(parseMemoryMiB(-5)).message).toContain('negative');
    expect(failure(parseMemoryMiB('Gi')).code).toBe('TESSERA_E_INVALID_QUANTITY');
    expect(failure(parseMemoryMiB(Number.NaN)).message).toContain('not a number');
  });
});

describe('parseDurationMs', () => {
  it.each([
    ['40s', 40_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['250ms', 250],
    [1500, 1500],
    ['1500', 1500],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['1d', 86_400_000],
    ['0s', 0],
  ] as const)('parses %j as %i ms', (input, ms) => {
    expect(value(parseDurationMs(input))).toBe(ms);
  });

  it.each(['-5s', '5x', 's', '1.5ms', '', '5 m'] as const)('refuses %j with INVALID_DURATION', (input) => {
    const e = failure(parseDurationMs(input));
    expect(e.code).toBe('TESSERA_E_INVALID_DURATION');
    expect(e.message).toContain(`"${input}"`);
    expect(e.message).toContain("'40s'");
  });

  it('refuses fractional and negative numbers of ms', () => {
    expect(failure(parseDurationMs(1.5)).message).toContain('whole number of milliseconds');
    expect(failure(parseDurationMs(-1)).message).toContain('negative');
  });
});

describe('fraction arithmetic', () => {
  it('gives a fraction floor(milli x memory / 1000) MiB of the GPU', () => {
    expect(fractionToMemoryMiB(500, 81920)).toBe(40960);
    expect(fractionToMemoryMiB(333, 40960)).toBe(13639);
    expect(fractionToMemoryMiB(1000, 80000)).toBe(80000);
  });

  it('sizes a memory request at ceil(memory x 1000 / GPU memory) milli, capped at a whole GPU', () => {
    expect(memoryToGpuMilli(40960, 81920)).toBe(500);
    expect(memoryToGpuMilli(1, 81920)).toBe(1);
    expect(memoryToGpuMilli(100_000, 81920)).toBe(MILLI_PER_GPU);
    expect(memoryToGpuMilli(10, 0)).toBe(MILLI_PER_GPU);
  });

  it('never gives a memory request less memory than it asked for', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200_000 }),
        fc.integer({ min: 0, max: 200_000 }),
        (gpuMem, asked) => {
          fc.pre(asked <= gpuMem);
          const milli = memoryToGpuMilli(asked, gpuMem);
          expect(milli).toBeLessThanOrEqual(MILLI_PER_GPU);
          expect(fractionToMemoryMiB(milli, gpuMem)).toBeGreaterThanOrEqual(asked);
        },
      ),
    );
  });

  it('never gives fractions on one GPU more memory in total than it has', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200_000 }),
        fc.array(fc.integer({ min: 1, max: 999 }), { maxLength: 10 }),
        (gpuMem, fractions) => {
          fc.pre(fractions.reduce((a, b) => a + b, 0) <= MILLI_PER_GPU);
          const total = fractions.reduce((sum, f) => sum + fractionToMemoryMiB(f, gpuMem), 0);
          expect(total).toBeLessThanOrEqual(gpuMem);
        },
      ),
    );
  });
});

describe('formatting', () => {
  it('formats examples', () => {
    expect(formatGpuMilli(500)).toBe('0.5');
    expect(formatGpuMilli(2000)).toBe('2');
    expect(formatGpuMilli(1)).toBe('0.001');
    expect(formatGpuMilli(1250)).toBe('1.25');
    expect(formatMemoryMiB(20480)).toBe('20GiB');
    expect(formatMemoryMiB(20000)).toBe('20000MiB');
    expect(formatMemoryMiB(0)).toBe('0MiB');
    expect(formatCpuMillis(2000)).toBe('2');
    expect(formatCpuMillis(500)).toBe('500m');
    expect(formatDurationMs(5_400_000)).toBe('1h30m');
    expect(formatDurationMs(250)).toBe('250ms');
    expect(formatDurationMs(0)).toBe('0s');
  });

  const amount = fc.integer({ min: 0, max: 10_000_000 });

  it('round-trips milli-GPU through formatGpuMilli and parseGpu', () => {
    fc.assert(fc.property(amount, (m) => value(parseGpu(formatGpuMilli(m))) === m));
  });

  it('round-trips milli-cores through formatCpuMillis and parseCpuMillis', () => {
    fc.assert(fc.property(amount, (m) => value(parseCpuMillis(formatCpuMillis(m))) === m));
  });

  it('round-trips MiB through formatMemoryMiB and parseMemoryMiB', () => {
    fc.assert(fc.property(amount, (m) => value(parseMemoryMiB(formatMemoryMiB(m))) === m));
  });

  it('round-trips ms through formatDurationMs and parseDurationMs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 40 }),
        (ms) => value(parseDurationMs(formatDurationMs(ms))) === ms,
      ),
    );
  });

  it('round-trips GPUs given as numbers of thousandths', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 100_000 }), (m) => value(parseGpu(m / 1000)) === m));
  });
});

describe('resource vectors', () => {
  const res = fc.record({
    gpuMilli: fc.integer({ min: 0, max: 8000 }),
    cpuMillis: fc.integer({ min: 0, max: 256_000 }),
    memoryMiB: fc.integer({ min: 0, max: 2_000_000 }),
  });

  it('adds, subtracts and scales component-wise', () => {
    const a: Resources = { gpuMilli: 500, cpuMillis: 2000, memoryMiB: 8192 };
    const b: Resources = { gpuMilli: 1000, cpuMillis: 500, memoryMiB: 1024 };
    expect(addRes(a, b)).toEqual({ gpuMilli: 1500, cpuMillis: 2500, memoryMiB: 9216 });
    expect(subRes(a, b)).toEqual({ gpuMilli: -500, cpuMillis: 1500, memoryMiB: 7168 });
    expect(scaleRes(a, 3)).toEqual({ gpuMilli: 1500, cpuMillis: 6000, memoryMiB: 24576 });
    expect(zeroRes()).toEqual({ gpuMilli: 0, cpuMillis: 0, memoryMiB: 0 });
  });

  it('fits only when every component fits', () => {
    const cap: Resources = { gpuMilli: 1000, cpuMillis: 1000, memoryMiB: 1000 };
    expect(fitsRes(cap, cap)).toBe(true);
    expect(fitsRes({ ...cap, memoryMiB: 1001 }, cap)).toBe(false);
    expect(fitsRes(zeroRes(), cap)).toBe(true);
  });

  it('a + b - b = a, a fits in a + b, and zero is the identity', () => {
    fc.assert(
      fc.property(res, res, (a, b) => {
        expect(subRes(addRes(a, b), b)).toEqual(a);
        expect(fitsRes(a, addRes(a, b))).toBe(true);
        expect(addRes(a, zeroRes())).toEqual(a);
      }),
    );
  });

  it('does not mutate its inputs', () => {
    const a = Object.freeze({ gpuMilli: 1, cpuMillis: 2, memoryMiB: 3 });
    expect(() => addRes(a, a)).not.toThrow();
    expect(a).toEqual({ gpuMilli: 1, cpuMillis: 2, memoryMiB: 3 });
  });
});
