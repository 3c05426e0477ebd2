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

  it('gives each live pod its own id, lowest first, reuses a released one, and says when none is left', () => {
    const ids = createIdAllocator({ first: 5000, last: 5002 });
    ids.claim(5001);
    expect([ids.take(), ids.take()].map((r) => (r.ok ? r.value : null))).toEqual([5000, 5002]);
    const none = ids.take();
    expect(none.ok ? '' : none.error.message).toContain('widen --pod-uid-range');
    ids.release(5000);
    expect(ids.take()).toEqual({ ok: true, value: 5000 });
    expect(ids.inUse()).toEqual([5000, 5001, 5002]);
  });
});
