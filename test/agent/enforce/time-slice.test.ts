import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTimeSlicer, type SliceTenant, sliceWindows } from '../../../agent/enforce/time-slice.ts';
import type { EnforceEvent } from '../../../agent/enforce/types.ts';
import { err, tesseraError } from '../../../common/errors.ts';
import { manualClock, recordingControl } from './helpers.ts';

const t = (podId: string, gpuMilli: number, active = true): SliceTenant => ({ podId, gpuMilli, active });

/** Fractions of one GPU: each 1..1000 milli, summing to at most 1000, unique ids. */
const tenantsArb = fc
  .array(fc.record({ gpuMilli: fc.integer({ min: 1, max: 1000 }), active: fc.boolean() }), {
    minLength: 1,
    maxLength: 7,
  })
  .filter((ts) => ts.reduce((s, x) => s + x.gpuMilli, 0) <= 1000)
  .map((ts) => ts.map((x, i) => ({ podId: `p${i}`, ...x })));
const cycleArb = fc.integer({ min: 10, max: 10000 });

describe('sliceWindows', () => {
  it('strict: each tenant gets exactly its fraction, idle or not, back to back', () => {
    expect(sliceWindows([t('b', 250, false), t('a', 500)], 'strict', 1000)).toEqual([
      { podId: 'a', offsetMs: 0, durationMs: 500 },
      { podId: 'b', offsetMs: 500, durationMs: 250 },
    ]);
  });

  it('strict: a tenant alone is still capped at its fraction', () => {
    expect(sliceWindows([t('a', 300)], 'strict', 5000)).toEqual([
      { podId: 'a', offsetMs: 0, durationMs: 1500 },
    ]);
  });

  it("fair: idle tenants' share flows to the active ones in proportion to their fractions", () => {
    expect(sliceWindows([t('a', 300), t('b', 100), t('c', 600, false)], 'fair', 4000)).toEqual([
      { podId: 'a', offsetMs: 0, durationMs: 3000 },
      { podId: 'b', offsetMs: 3000, durationMs: 1000 },
    ]);
  });

  it('fair: a lone active tenant runs the whole cycle and idle tenants are not gated', () => {
    expect(sliceWindows([t('a', 300), t('b', 200, false)], 'fair', 5000)).toEqual([
      { podId: 'a', offsetMs: 0, durationMs: 5000 },
    ]);
    expect(sliceWindows([t('a', 300, false), t('b', 200, false)], 'fair', 5000)).toEqual([]);
  });

  it('property: windows lie within the cycle and never overlap', () => {
    fc.assert(
      fc.property(
        tenantsArb,
        cycleArb,
        fc.constantFrom('strict' as const, 'fair' as const),
        (ts, cycleMs, mode) => {
          const ws = [...sliceWindows(ts, mode, cycleMs)].sort((a, b) => a.offsetMs - b.offsetMs);
          let end = 0;
          for (const w of ws) {
            expect(w.offsetMs).toBeGreaterThanOrEqual(end);
            expect(w.offsetMs + w.durationMs).toBeLessThanOrEqual(cycleMs);
            end = w.offsetMs + w.durationMs;
          }
        },
      ),
    );
  });

  it('property: durations are proportional to fractions (strict: of the GPU; fair: of the active ones)', () => {
    fc.assert(
      fc.property(tenantsArb, cycleArb, (ts, cycleMs) => {
        for (const w of sliceWindows(ts, 'strict', cycleMs)) {
          const milli = ts.find((x) => x.podId === w.podId)!.gpuMilli;
          expect(Math.abs(w.durationMs - (cycleMs * milli) / 1000)).toBeLessThan(1);
        }
        const active = ts.filter((x) => x.active);
        const activeMilli = active.reduce((s, x) => s + x.gpuMilli, 0);
        const fair = sliceWindows(ts, 'fair', cycleMs);
        expect(fair.map((w) => w.podId).sort()).toEqual(active.map((x) => x.podId).sort());
        for (const w of fair) {
          const milli = ts.find((x) => x.podId === w.podId)!.gpuMilli;
          const share = active.length === 1 ? cycleMs : (cycleMs * milli) / activeMilli;
          expect(Math.abs(w.durationMs - share)).toBeLessThan(1);
        }
      }),
    );
  });

  it('property: fair gives the whole cycle to a lone active tenant, whatever its fraction', () => {
    fc.assert(
      fc.property(tenantsArb, cycleArb, fc.nat(), (ts, cycleMs, pick) => {
        const lone = ts[pick % ts.length]!.podId;
        const only = ts.map((x) => ({ ...x, active: x.podId === lone }));
        expect(sliceWindows(only, 'fair', cycleMs)).toEqual([
          { podId: lone, offsetMs: 0, durationMs: cycleMs },
        ]);
      }),
    );
  });
});

describe('createTimeSlicer (injected clock)', () => {
  const setup = (mode: 'strict' | 'fair') => {
    const clock = manualClock();
    const control = recordingControl();
    const events: EnforceEvent[] = [];
    const slicer = createTimeSlicer({
      control,
      mode,
      cycleMs: 200,
      now: clock.now,
      setTimer: clock.setTimer,
      onEvent: (e) => events.push(e),
    });
    const at: string[] = [];
    const origFreeze = control.freeze;
    control.freeze = (podId, frozen) => {
      at.push(`${clock.now()} ${frozen ? 'freeze' : 'thaw'} ${podId}`);
      origFreeze(podId, frozen);
    };
    return { clock, control, events, slicer, at };
  };

  it('strict 50/50: each pod runs its half of every cycle; the outgoing one stops before the next continues', () => {
    const { clock, slicer, at } = setup('strict');
    slicer.update([{ gpuUuid: 'G', tenants: [t('a', 500), t('b', 500)] }]);
    slicer.start();
    clock.advance(450);
    expect(at).toEqual([
      '0 freeze b',
      '100 freeze a',
      '100 thaw b',
      '200 freeze b',
      '200 thaw a',
      '300 freeze a',
      '300 thaw b',
      '400 freeze b',
      '400 thaw a',
    ]);
    expect(slicer.stats()).toMatchObject({ cycles: 3, pauses: 5, stopped: ['b'] });
  });

  it('stop() resumes every stopped pod: nobody is left frozen', () => {
    const { clock, slicer, at, events } = setup('strict');
    slicer.update([{ gpuUuid: 'G', tenants: [t('a', 300), t('b', 300)] }]);
    slicer.start();
    clock.advance(130);
    slicer.stop();
    expect(slicer.stats().stopped).toEqual([]);
    expect(at.at(-1)).toMatch(/thaw/);
    const n = at.length;
    clock.advance(1000);
    expect(at).toHaveLength(n);
    expect(events.filter((e) => e.kind === 'slice-pause').map((e) => e.podId)).toEqual(['a', 'b']);
    expect(events.filter((e) => e.kind === 'slice-resume').map((e) => e.podId)).toEqual(['a', 'b']);
  });

  it('a removed pod is resumed at once and not stopped again by its pending window end', () => {
    const { clock, slicer, at } = setup('strict');
    slicer.update([{ gpuUuid: 'G', tenants: [t('a', 500), t('b', 500)] }]);
    slicer.start();
    clock.advance(50);
    slicer.removePod('b');
    expect(at.at(-1)).toBe('50 thaw b');
    slicer.update([{ gpuUuid: 'G', tenants: [t('a', 500)] }]);
    clock.advance(1000);
    expect(at.filter((x) => x.endsWith(' b'))).toEqual(['0 freeze b', '50 thaw b']);
  });

  it('a pod left out of an update is resumed', () => {
    const { clock, slicer, at } = setup('strict');
    slicer.update([{ gpuUuid: 'G', tenants: [t('a', 500), t('b', 500)] }]);
    slicer.start();
    clock.advance(10);
    slicer.update([{ gpuUuid: 'G', tenants: [t('a', 500)] }]);
    expect(at).toEqual(['0 freeze b', '10 thaw b']);
  });

  it('fair without contention pauses nobody; contention starts slicing at the next cycle', () => {
    const { clock, slicer, at } = setup('fair');
    slicer.update([{ gpuUuid: 'G', tenants: [t('a', 250), t('b', 250, false)] }]);
    slicer.start();
    clock.advance(390);
    expect(at).toEqual([]);
    slicer.update([{ gpuUuid: 'G', tenants: [t('a', 250), t('b', 750)] }]);
    clock.advance(100);
    // From the cycle at 400: a runs 50 ms, b 150 ms.
    expect(at).toEqual(['400 freeze b', '450 freeze a', '450 thaw b']);
    expect(slicer.stats().pauses).toBe(2);
  });

  it('a freeze the runner refuses is reported and not counted as a pause', () => {
    const clock = manualClock();
    const control = recordingControl();
    control.freeze = (podId, frozen) =>
      err(tesseraError('TESSERA_E_CONFLICT', `cannot ${frozen ? 'freeze' : 'thaw'}: pod ${podId} is exited`));
    const errors: string[] = [];
    const slicer = createTimeSlicer({
      control,
      mode: 'strict',
      cycleMs: 200,
      ...clock,
      onError: (podId, e) => errors.push(`${podId}: ${(e as { message: string }).message}`),
    });
    slicer.update([{ gpuUuid: 'G', tenants: [t('a', 500), t('b', 500)] }]);
    slicer.start();
    expect(errors).toEqual(['b: cannot freeze: pod b is exited']);
    expect(slicer.stats()).toMatchObject({ pauses: 0, stopped: [] });
    slicer.stop();
  });

  it('a pod on two GPUs runs only in the intersection of its windows', () => {
    const { clock, slicer, at } = setup('strict');
    slicer.update([
      { gpuUuid: 'G1', tenants: [t('a', 500), t('x', 500)] },
      { gpuUuid: 'G2', tenants: [t('0', 250), t('x', 750)] },
    ]);
    slicer.start();
    clock.advance(199);
    // x: [100, 200) on G1, [50, 200) on G2 -> [100, 200).
    expect(at.filter((s) => s.endsWith(' x'))).toEqual(['0 freeze x', '100 thaw x']);
  });
});
