import { describe, expect, it } from 'vitest';
import { createSampleSlots } from '../../../allocator/link/sample-slots.ts';
import type { WireGpuSample } from '../../../common/wire.ts';

const sample = (index: number, util: number | null): WireGpuSample => ({
  ...{ uuid: `GPU-${index}`, index, utilizationPct: util, memoryUsedMiB: 100 + index },
  ...{ memoryTotalMiB: null, temperatureC: 40.5, powerDrawW: index === 0 ? null : 300 },
});

describe('sample slots', () => {
  it('hold a node samples as numbers and give them back alike, nulls as nulls', () => {
    const slots = createSampleSlots();
    expect(slots.materialize()).toEqual([]);
    const first = [sample(0, 10), sample(1, null)];
    slots.store(first);
    expect(slots.materialize()).toEqual(first);
    expect([slots.indexAt(1), slots.utilizationAt(0), slots.utilizationAt(1)]).toEqual([1, 10, null]);
    // Fewer GPUs next time (one fell off the bus): the slots shrink with them.
    slots.store([sample(0, 99)]);
    expect(slots.length).toBe(1);
    expect(slots.materialize()).toEqual([sample(0, 99)]);
    slots.store([sample(0, 1), sample(1, 2), sample(2, 3)]);
    expect(slots.materialize().map((s) => s.utilizationPct)).toEqual([1, 2, 3]);
  });

  it('keep a GPU uuid while Statuses name it alike and follow it when it changes', () => {
    const slots = createSampleSlots();
    const held = `GPU-${'abc'}`;
    slots.store([{ ...sample(0, 1), uuid: held }]);
    slots.store([{ ...sample(0, 2), uuid: ['GPU-', 'abc'].join('') }]);
    expect(slots.materialize()[0]?.uuid).toBe(held);
    slots.store([{ ...sample(0, 2), uuid: 'GPU-other' }]);
    expect(slots.materialize()[0]?.uuid).toBe('GPU-other');
  });
});
