import { describe, expect, it } from 'vitest';
import { createIdAllocator, parseIdRange } from '../../../../agent/runtime/process/ids.ts';

describe('pod uid range', () => {
  it('parses FIRST-LAST and refuses system ids, reversed and malformed ranges', () => {
    expect(parseIdRange('200000-265535')).toEqual({ ok: true, value: { first: 200_000, last: 265_535 } });
    for (const bad of ['0-100', '999-2000', '3000-2000', '200000', 'a-b', '-1-5']) {
      const r = parseIdRange(bad);
      expect(r.ok ? '' : r.error.field).toBe('pod-uid-range');
    }
  });

  it('gives each live pod its own id, skips claimed ones, and says when none is left', () => {
    const ids = createIdAllocator({ first: 5000, last: 5002 });
    ids.claim(5001);
    expect([ids.take(), ids.take()].map((r) => (r.ok ? r.value : null))).toEqual([5000, 5002]);
    const none = ids.take();
    expect(none.ok ? '' : none.error.message).toContain('widen --pod-uid-range');
    ids.release(5000);
    expect(ids.take()).toEqual({ ok: true, value: 5000 });
    expect(ids.inUse()).toEqual([5000, 5001, 5002]);
  });

  it('goes round the range, so a released id is the last to be handed out again', () => {
    const ids = createIdAllocator({ first: 7000, last: 7003 });
    const a = ids.take();
    ids.take();
    if (a.ok) ids.release(a.value);
    // 7000 is free again, but 7002 and 7003 come first.
    expect([ids.take(), ids.take(), ids.take()].map((r) => (r.ok ? r.value : null))).toEqual([
      7002, 7003, 7000,
    ]);
  });
});
