import { describe, expect, it } from 'vitest';
import {
  canPodTransition,
  canTransition,
  isTerminalPhase,
  isTerminalPodPhase,
  legalTargets,
  POD_PHASES,
  POD_TRANSITIONS,
  type PodPhase,
  podPath,
  podTransition,
  transition,
  WORKLOAD_PHASES,
  WORKLOAD_TRANSITIONS,
  type WorkloadPhase,
} from '../../common/phases.ts';

const legalWorkload: [WorkloadPhase, WorkloadPhase][] = WORKLOAD_PHASES.flatMap((from) =>
  WORKLOAD_TRANSITIONS[from].map((to): [WorkloadPhase, WorkloadPhase] => [from, to]),
);
const illegalWorkload: [WorkloadPhase, WorkloadPhase][] = WORKLOAD_PHASES.flatMap((from) =>
  WORKLOAD_PHASES.filter((to) => !WORKLOAD_TRANSITIONS[from].includes(to)).map(
    (to): [WorkloadPhase, WorkloadPhase] => [from, to],
  ),
);

describe('workload phase machine', () => {
  it.each(legalWorkload)('accepts %s -> %s', (from, to) => {
    expect(canTransition(from, to)).toBe(true);
    const r = transition(from, to, 'test', 'detail');
    expect(r).toEqual({ ok: true, value: { from, to, reason: 'test', message: 'detail' } });
  });

  it.each(illegalWorkload)('refuses %s -> %s, naming both phases and the legal targets', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
    const r = transition(from, to, 'test');
    if (r.ok) throw new Error('expected a refusal');
    expect(r.error.code).toBe('TESSERA_E_ILLEGAL_TRANSITION');
    expect(r.error.message).toContain(`${from} -> ${to}`);
    const legal = WORKLOAD_TRANSITIONS[from];
    expect(r.error.message).toContain(legal.length === 0 ? 'terminal' : legal.join(', '));
  });

  it('follows the main path Creating -> Pending -> Initializing -> Running -> Completed', () => {
    const path: WorkloadPhase[] = ['Creating', 'Pending', 'Initializing', 'Running', 'Completed'];
    for (let i = 1; i < path.length; i++) expect(canTransition(path[i - 1]!, path[i]!)).toBe(true);
  });

  it('lets every phase that has not finished be stopped by the user or deleted', () => {
    for (const from of WORKLOAD_PHASES) {
      if (isTerminalPhase(from) || from === 'Deleting') continue;
      if (from !== 'Stopped') expect(canTransition(from, 'Stopped'), from).toBe(true);
      expect(canTransition(from, 'Deleting'), from).toBe(true);
    }
  });

  it('sends preempted or node-lost work from Initializing, Running and Degraded back to Pending', () => {
    for (const from of ['Initializing', 'Running', 'Degraded'] as const)
      expect(canTransition(from, 'Pending')).toBe(true);
  });

  it('lets Stopped only run again (to Pending) or be deleted', () => {
    expect(legalTargets('Stopped')).toEqual(['Pending', 'Deleting']);
  });

  it('moves between Running and Degraded both ways, and Degraded may finish either way', () => {
    expect(canTransition('Running', 'Degraded')).toBe(true);
    expect(canTransition('Degraded', 'Running')).toBe(true);
    expect(canTransition('Degraded', 'Completed')).toBe(true);
    expect(canTransition('Degraded', 'Failed')).toBe(true);
  });

  it('keeps Completed and Failed terminal except for deletion, and Deleting leads nowhere', () => {
    expect(isTerminalPhase('Completed')).toBe(true);
    expect(isTerminalPhase('Failed')).toBe(true);
    expect(isTerminalPhase('Running')).toBe(false);
    expect(legalTargets('Completed')).toEqual(['Deleting']);
    expect(legalTargets('Failed')).toEqual(['Deleting']);
    expect(legalTargets('Deleting')).toEqual([]);
    const r = transition('Completed', 'Pending', 'rerun');
    expect(r.ok ? '' : r.error.message).toContain('legal targets from Completed: Deleting');
    const d = transition('Deleting', 'Running', 'x');
    expect(d.ok ? '' : d.error.message).toContain('none, it is terminal');
  });

  it('refuses a move to the same phase', () => {
    for (const p of WORKLOAD_PHASES) expect(canTransition(p, p)).toBe(false);
  });

  it('refuses skipping the queue: Creating -> Running, Pending -> Running, Stopped -> Running', () => {
    expect(canTransition('Creating', 'Running')).toBe(false);
    expect(canTransition('Pending', 'Running')).toBe(false);
    expect(canTransition('Stopped', 'Running')).toBe(false);
  });

  it('pins the agreed table, so a change to it is a deliberate one', () => {
    expect(WORKLOAD_TRANSITIONS).toEqual({
      Creating: ['Pending', 'Failed', 'Stopped', 'Deleting'],
      Pending: ['Initializing', 'Stopped', 'Deleting'],
      Initializing: ['Running', 'Degraded', 'Failed', 'Pending', 'Stopped', 'Deleting'],
      Running: ['Degraded', 'Completed', 'Failed', 'Pending', 'Stopped', 'Deleting'],
      Degraded: ['Running', 'Completed', 'Failed', 'Pending', 'Stopped', 'Deleting'],
      Stopped: ['Pending', 'Deleting'],
      Deleting: [],
      Failed: ['Deleting'],
      Completed: ['Deleting'],
    });
  });

  it('has a table entry for every phase, pointing only at known phases', () => {
    expect(Object.keys(WORKLOAD_TRANSITIONS).sort()).toEqual([...WORKLOAD_PHASES].sort());
    for (const targets of Object.values(WORKLOAD_TRANSITIONS)) {
      for (const t of targets) expect(WORKLOAD_PHASES).toContain(t);
    }
  });

  it('leaves message out of the change when none is given', () => {
    expect(transition('Pending', 'Initializing', 'scheduled')).toEqual({
      ok: true,
      value: { from: 'Pending', to: 'Initializing', reason: 'scheduled' },
    });
  });
});

const legalPod: [PodPhase, PodPhase][] = POD_PHASES.flatMap((from) =>
  POD_TRANSITIONS[from].map((to): [PodPhase, PodPhase] => [from, to]),
);
const illegalPod: [PodPhase, PodPhase][] = POD_PHASES.flatMap((from) =>
  POD_PHASES.filter((to) => !POD_TRANSITIONS[from].includes(to)).map((to): [PodPhase, PodPhase] => [
    from,
    to,
  ]),
);

describe('pod phase machine', () => {
  it.each(legalPod)('accepts %s -> %s', (from, to) => {
    expect(canPodTransition(from, to)).toBe(true);
    expect(podTransition(from, to, 'test').ok).toBe(true);
  });

  it.each(illegalPod)('refuses %s -> %s', (from, to) => {
    const r = podTransition(from, to, 'test');
    if (r.ok) throw new Error('expected a refusal');
    expect(r.error.code).toBe('TESSERA_E_ILLEGAL_TRANSITION');
    expect(r.error.message).toContain(`pod phase transition ${from} -> ${to}`);
  });

  it('follows Pending -> Bound -> Starting -> Running -> Succeeded', () => {
    const path: PodPhase[] = ['Pending', 'Bound', 'Starting', 'Running', 'Succeeded'];
    for (let i = 1; i < path.length; i++) expect(canPodTransition(path[i - 1]!, path[i]!)).toBe(true);
  });

  it('stops through Stopping once started, and requeues a stopped pod', () => {
    expect(canPodTransition('Running', 'Stopped')).toBe(false);
    expect(canPodTransition('Running', 'Stopping')).toBe(true);
    expect(canPodTransition('Stopping', 'Stopped')).toBe(true);
    expect(canPodTransition('Stopped', 'Pending')).toBe(true);
  });

  it('keeps Succeeded and Failed terminal', () => {
    expect(POD_PHASES.filter(isTerminalPodPhase)).toEqual(['Succeeded', 'Failed']);
  });

  it('has a table entry for every pod phase', () => {
    expect(Object.keys(POD_TRANSITIONS).sort()).toEqual([...POD_PHASES].sort());
  });

  it('finds the shortest path through the allowed steps, every step legal', () => {
    expect(podPath('Bound', 'Running', ['Starting'])).toEqual(['Starting', 'Running']);
    expect(podPath('Running', 'Stopped', ['Pending'])).toEqual(['Pending', 'Stopped']);
    expect(podPath('Running', 'Stopped', ['Stopping'])).toEqual(['Stopping', 'Stopped']);
    expect(podPath('Running', 'Running', [])).toEqual([]);
    for (const from of POD_PHASES)
      for (const to of POD_PHASES) {
        const path = podPath(from, to, POD_PHASES);
        if (path === null) continue;
        const steps = [from, ...path];
        for (let k = 1; k < steps.length; k++) expect(canPodTransition(steps[k - 1]!, steps[k]!)).toBe(true);
      }
  });

  it('finds no path through steps it may not take, nor out of a terminal phase', () => {
    expect(podPath('Running', 'Starting', ['Starting', 'Pending'])).toEqual(['Starting']);
    expect(podPath('Running', 'Bound', ['Starting'])).toBeNull();
    expect(podPath('Running', 'Stopped', [])).toBeNull();
    expect(podPath('Succeeded', 'Running', POD_PHASES)).toBeNull();
  });
});
