import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLineMatcher, effectiveReadiness } from '../../../agent/runner/readiness.ts';

const feedAll = (prefix: string, chunks: string[]): boolean => {
  const m = createLineMatcher(prefix);
  return chunks.some((c) => m.feed(Buffer.from(c)));
};

describe('readiness line', () => {
  it('the line READY, a line starting with READY, and READY with no newline all count', () => {
    expect(feedAll('READY', ['READY\n'])).toBe(true);
    expect(feedAll('READY', ['booting\nREADY port=8080\n'])).toBe(true);
    expect(feedAll('READY', ['loading...\n', 'READY'])).toBe(true);
  });

  it('READY elsewhere in a line does not count', () => {
    expect(feedAll('READY', ['NOT READY\n', 'ALREADY\n', ' READY\n', 'READ\n', 'Y\n'])).toBe(false);
  });

  it('a prefix split across chunks is still found', () => {
    expect(feedAll('READY', ['xx\nRE', 'A', 'DY'])).toBe(true);
    expect(feedAll('READY', ['xx RE', 'ADY'])).toBe(false);
  });

  it('property: how the output is cut into chunks never changes the answer', () => {
    const text = fc
      .array(fc.constantFrom('READY', 'RE', 'ADY', 'x', ' ', '\n', 'NOT '), { maxLength: 30 })
      .map((a) => a.join(''));
    fc.assert(
      fc.property(text, fc.array(fc.nat(), { maxLength: 6 }), (t, cuts) => {
        const points = [...new Set(cuts.map((c) => c % (t.length + 1)))].sort((a, b) => a - b);
        const chunks: string[] = [];
        let from = 0;
        for (const p of points) {
          chunks.push(t.slice(from, p));
          from = p;
        }
        chunks.push(t.slice(from));
        const expected = t.split('\n').some((line) => line.startsWith('READY'));
        expect(feedAll('READY', chunks)).toBe(expected);
      }),
    );
  });

  it("a spec's readiness overrides the runner's field by field; an empty prefix turns the line check off", () => {
    expect(effectiveReadiness(undefined)).toEqual({ linePrefix: 'READY', delayMs: null, probe: null });
    expect(effectiveReadiness({ delayMs: 500 })).toEqual({ linePrefix: 'READY', delayMs: 500, probe: null });
    expect(effectiveReadiness({ linePrefix: null }, { linePrefix: 'UP', delayMs: 100 })).toEqual({
      linePrefix: null,
      delayMs: 100,
      probe: null,
    });
    expect(effectiveReadiness({ linePrefix: '' }).linePrefix).toBeNull();
  });

  it('a probe alone decides: the line and delay rules are off with one', () => {
    const probe = {
      kind: 'tcp' as const,
      port: 40_000,
      path: null,
      initialDelayMs: 0,
      periodMs: 2000,
      timeoutMs: 1000,
      failureThreshold: 3,
    };
    expect(effectiveReadiness({ linePrefix: 'UP', delayMs: 100, probe })).toEqual({
      linePrefix: null,
      delayMs: null,
      probe,
    });
  });
});
