import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { derivePhase, type PodFacts, REPORT_DRIVEN_PHASES } from '../../../allocator/lifecycle/derive.ts';
import { canTransition, POD_PHASES, type PodPhase, WORKLOAD_PHASES } from '../../../common/phases.ts';

/** Pods named p0, p1, ... in the given phases, a Failed one with `exitCode`. */
function pods(phases: readonly PodPhase[], exitCode: number | null = 1): PodFacts[] {
  return phases.map((phase, i) => ({ name: `p${i}`, phase, exitCode: phase === 'Failed' ? exitCode : null }));
}

describe('derivePhase', () => {
  it('Initializing -> Running once running + succeeded pods reach the required count', () => {
    expect(derivePhase('Initializing', 2, pods(['Running', 'Running']))).toMatchObject({
      to: 'Running',
      reason: 'PodsReady',
    });
    // A worker that already finished its part counts as done, not as missing.
    expect(derivePhase('Initializing', 2, pods(['Running', 'Succeeded']))?.to).toBe('Running');
  });

  it('keeps Initializing while fewer than required pods run', () => {
    expect(derivePhase('Initializing', 2, pods(['Running', 'Starting']))).toBeNull();
    expect(derivePhase('Initializing', 1, pods(['Bound']))).toBeNull();
  });

  it('Running -> Degraded when a pod fails while others live', () => {
    const d = derivePhase('Running', 2, pods(['Running', 'Failed'], 137));
    expect(d).toEqual({ to: 'Degraded', reason: 'PodFailed', message: 'pod p1 failed with exit code 137' });
  });

  it('a failed replica whose place a pod bound later took no longer degrades; one bound beside it does', () => {
    const at = (name: string, phase: PodPhase, boundMs: number): PodFacts => ({
      name,
      phase,
      exitCode: phase === 'Failed' ? 137 : null,
      boundMs,
    });
    // p0 and p1 bound together, p0 killed, p2 placed in its place: Running once p2 runs.
    expect(
      derivePhase('Degraded', 2, [at('p0', 'Failed', 1), at('p1', 'Running', 1), at('p2', 'Running', 5)]),
    ).toMatchObject({ to: 'Running' });
    expect(
      derivePhase('Degraded', 2, [at('p0', 'Failed', 1), at('p1', 'Running', 1), at('p2', 'Starting', 5)]),
    ).toBeNull();
    // Siblings of one gang never stand in for each other; one later pod stands in for one failure only.
    expect(derivePhase('Running', 2, [at('p0', 'Failed', 1), at('p1', 'Running', 1)])?.to).toBe('Degraded');
    expect(
      derivePhase('Running', 1, [at('p0', 'Failed', 1), at('p1', 'Failed', 1), at('p2', 'Running', 5)])?.to,
    ).toBe('Degraded');
  });

  it('Running -> Degraded when fewer than required pods run', () => {
    expect(derivePhase('Running', 3, pods(['Running', 'Running', 'Starting']))).toEqual({
      to: 'Degraded',
      reason: 'PodsNotReady',
      message: '2 of 3 required pod(s) running',
    });
  });

  it('Degraded -> Running on recovery', () => {
    expect(derivePhase('Degraded', 2, pods(['Running', 'Running', 'Stopped']))).toMatchObject({
      to: 'Running',
      reason: 'PodsReady',
      message: '2 pod(s) running',
    });
  });

  it('Completed when nothing is live, none failed and some succeeded', () => {
    expect(derivePhase('Running', 2, pods(['Succeeded', 'Succeeded', 'Stopped']))).toEqual({
      to: 'Completed',
      reason: 'Succeeded',
      message: '2 pod(s) exited with code 0',
    });
  });

  it('Failed, naming the pod and its exit code, when nothing is live and one failed', () => {
    expect(derivePhase('Running', 2, pods(['Succeeded', 'Failed'], 3))).toEqual({
      to: 'Failed',
      reason: 'PodFailed',
      message: 'pod p1 failed with exit code 3',
    });
    // Killed by a signal: no exit code to name.
    expect(derivePhase('Degraded', 1, pods(['Failed'], null))?.message).toBe('pod p0 failed');
  });

  it('stays put when nothing is live and nothing ended (node-lost and preemption requeue it)', () => {
    expect(derivePhase('Running', 1, pods(['Stopped']))).toBeNull();
    expect(derivePhase('Running', 1, [])).toBeNull();
  });

  it('is null for phases pod reports do not drive', () => {
    for (const phase of ['Creating', 'Pending', 'Stopped', 'Deleting', 'Completed', 'Failed'] as const) {
      expect(derivePhase(phase, 1, pods(['Running']))).toBeNull();
      expect(derivePhase(phase, 1, pods(['Failed']))).toBeNull();
      expect(derivePhase(phase, 1, pods(['Succeeded']))).toBeNull();
    }
  });

  it('is null when the target is the current phase', () => {
    expect(derivePhase('Running', 1, pods(['Running']))).toBeNull();
    expect(derivePhase('Degraded', 2, pods(['Running', 'Failed']))).toBeNull();
    expect(derivePhase('Degraded', 2, pods(['Running', 'Starting']))).toBeNull();
  });
});

const podsArb = fc.array(
  fc.record({
    phase: fc.constantFrom(...POD_PHASES),
    exitCode: fc.option(fc.integer({ min: 0, max: 255 }), { nil: null }),
  }),
  { maxLength: 6 },
);

describe('derivePhase properties', () => {
  /**
   * The one target the table refuses: every pod of an Initializing workload succeeded before any was
   * reported ready. derivePhase says Completed; reports.ts settle() routes it through Running.
   */
  const initializingAllDone = (phase: string, facts: readonly PodFacts[]): boolean =>
    phase === 'Initializing' &&
    facts.some((p) => p.phase === 'Succeeded') &&
    !facts.some((p) => ['Bound', 'Starting', 'Running', 'Unknown', 'Failed'].includes(p.phase));

  it('derives only legal transitions from the current phase, and only for report-driven phases', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...WORKLOAD_PHASES),
        fc.integer({ min: 1, max: 4 }),
        podsArb,
        (phase, required, raw) => {
          const facts = raw.map((p, i) => ({ name: `p${i}`, ...p }));
          const d = derivePhase(phase, required, facts);
          if (d === null) return;
          expect(REPORT_DRIVEN_PHASES).toContain(phase);
          expect(d.to).not.toBe(phase);
          if (initializingAllDone(phase, facts)) expect(d.to).toBe('Completed');
          else expect(canTransition(phase, d.to)).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('says Completed for an Initializing workload whose pods all succeeded (the caller steps through Running)', () => {
    expect(derivePhase('Initializing', 1, pods(['Succeeded']))?.to).toBe('Completed');
    expect(canTransition('Initializing', 'Completed')).toBe(false);
  });
});
