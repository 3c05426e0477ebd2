import { describe, expect, it } from 'vitest';
import { enforceSchedulingRules } from '../../../allocator/lifecycle/enforce-rules.ts';
import {
  GPU_WINDOW_MS,
  gpuKey,
  type RuledWorkload,
  ruleStops,
  runningSinceMs,
} from '../../../allocator/lifecycle/rules.ts';
import { teardown } from '../../../allocator/lifecycle/teardown.ts';
import { createGpuUsageTracker } from '../../../allocator/service/gpu-usage.ts';
import { listEvents } from '../../../allocator/store/events.ts';
import { putScoped } from '../../../allocator/store/policies.ts';
import { changePhase, getWorkload } from '../../../allocator/store/workloads.ts';
import { checkRulesTighten, effectiveRules } from '../../../common/scheduling-rules.ts';
import type { WireGpuSample } from '../../../common/wire-types.ts';
import { must, openTemp, smallOrg, submitBound, T_BIND, training } from './helpers.ts';

const T0 = 1_700_000_010_000 - (1_700_000_010_000 % GPU_WINDOW_MS);

function workload(rules: RuledWorkload['rules'], runningSince: number | null = T0): RuledWorkload {
  return {
    id: 'w1',
    name: 'resnet',
    runningSinceMs: runningSince,
    gpus: [{ node: 'n1', uuid: 'GPU-a' }],
    rules,
  };
}

function sample(uuid: string, utilizationPct: number | null): WireGpuSample {
  return {
    uuid,
    index: 0,
    utilizationPct,
    memoryUsedMiB: 0,
    memoryTotalMiB: 1000,
    temperatureC: 30,
    powerDrawW: 50,
  };
}

describe('maxRuntimeSeconds', () => {
  const w = workload({ maxRuntimeSeconds: { value: 3600, scope: 'department:research' } });

  it('fires exactly when the running time reaches the limit, naming rule and scope', () => {
    expect(ruleStops([w], new Map(), T0 + 3_600_000 - 1)).toEqual([]);
    expect(ruleStops([w], new Map(), T0 + 3_600_000)).toEqual([
      {
        workload: 'w1',
        reason: 'MaxRuntimeExceeded',
        message: 'stopped by rule maxRuntimeSeconds 3600 set by department:research: resnet ran 3600s',
      },
    ]);
  });

  it('never fires for a workload that is not running', () => {
    expect(ruleStops([{ ...w, runningSinceMs: null }], new Map(), T0 + 10_000_000)).toEqual([]);
  });

  it('counts from the last entry into Running; Running <-> Degraded keeps the clock', () => {
    const events = [
      { timeMs: 1, from: null, to: 'Creating' as const },
      { timeMs: 2, from: 'Creating' as const, to: 'Pending' as const },
      { timeMs: 3, from: 'Pending' as const, to: 'Initializing' as const },
      { timeMs: 4, from: 'Initializing' as const, to: 'Running' as const },
      { timeMs: 5, from: 'Running' as const, to: 'Degraded' as const },
      { timeMs: 6, from: 'Degraded' as const, to: 'Running' as const },
    ];
    expect(runningSinceMs(events)).toBe(4);
    const preempted = [
      ...events,
      { timeMs: 7, from: 'Running' as const, to: 'Pending' as const },
      { timeMs: 8, from: 'Pending' as const, to: 'Initializing' as const },
      { timeMs: 9, from: 'Initializing' as const, to: 'Running' as const },
    ];
    expect(runningSinceMs(preempted)).toBe(9);
    expect(runningSinceMs(preempted.slice(0, 7))).toBeNull();
  });
});

describe('idleGpuTimeoutSeconds, judged in 30 s windows of GPU samples', () => {
  const w = workload({ idleGpuTimeoutSeconds: { value: 60, scope: 'cluster' } });

  /** Samples every 2 s from T0 until `untilMs` (exclusive), at `pct`. */
  function feed(
    tracker: ReturnType<typeof createGpuUsageTracker>,
    fromMs: number,
    untilMs: number,
    pct: number | null,
  ) {
    for (let t = fromMs; t < untilMs; t += 2000) tracker.record('n1', [sample('GPU-a', pct)], t);
  }

  it('fires exactly when two whole idle windows have passed, not a millisecond before', () => {
    const tracker = createGpuUsageTracker();
    feed(tracker, T0, T0 + 60_000, 0);
    expect(ruleStops([w], tracker.idleRuns(T0 + 59_999), T0 + 59_999)).toEqual([]);
    const stops = ruleStops([w], tracker.idleRuns(T0 + 60_000), T0 + 60_000);
    expect(stops).toEqual([
      {
        workload: 'w1',
        reason: 'IdleGpuTimeout',
        message:
          'stopped by rule idleGpuTimeoutSeconds 60 set by cluster: all 1 GPU(s) of resnet at 0% utilization for 60s',
      },
    ]);
  });

  it('restarts the count after a busy window, an unknown reading or a window with no samples', () => {
    const tracker = createGpuUsageTracker();
    feed(tracker, T0, T0 + 30_000, 0);
    tracker.record('n1', [sample('GPU-a', 3)], T0 + 31_000);
    feed(tracker, T0 + 32_000, T0 + 60_000, 0);
    feed(tracker, T0 + 60_000, T0 + 120_000, 0);
    expect(ruleStops([w], tracker.idleRuns(T0 + 119_999), T0 + 119_999)).toEqual([]);
    expect(ruleStops([w], tracker.idleRuns(T0 + 120_000), T0 + 120_000)).toHaveLength(1);

    const unknown = createGpuUsageTracker();
    feed(unknown, T0, T0 + 90_000, null);
    expect(ruleStops([w], unknown.idleRuns(T0 + 90_000), T0 + 90_000)).toEqual([]);

    const gap = createGpuUsageTracker();
    feed(gap, T0, T0 + 30_000, 0);
    feed(gap, T0 + 60_000, T0 + 90_000, 0);
    expect(ruleStops([w], gap.idleRuns(T0 + 90_000), T0 + 90_000)).toEqual([]);
  });

  it('needs every GPU of the workload idle, and counts only time since it started running', () => {
    const tracker = createGpuUsageTracker();
    for (let t = T0; t < T0 + 90_000; t += 2000)
      tracker.record('n1', [sample('GPU-a', 0), sample('GPU-b', t < T0 + 30_000 ? 50 : 0)], t);
    const two = { ...w, gpus: [...w.gpus, { node: 'n1', uuid: 'GPU-b' }] };
    expect(ruleStops([two], tracker.idleRuns(T0 + 89_999), T0 + 89_999)).toEqual([]);
    expect(ruleStops([two], tracker.idleRuns(T0 + 90_000), T0 + 90_000)).toHaveLength(1);
    const late = { ...w, runningSinceMs: T0 + 30_000 };
    expect(ruleStops([late], tracker.idleRuns(T0 + 89_999), T0 + 89_999)).toEqual([]);
    expect(ruleStops([late], tracker.idleRuns(T0 + 90_000), T0 + 90_000)).toHaveLength(1);
    expect(tracker.idleRuns(T0 + 90_000).get(gpuKey('n1', 'GPU-b'))?.idleSinceMs).toBe(T0 + 30_000);
    tracker.forgetNode('n1');
    expect(tracker.idleRuns(T0 + 90_000).size).toBe(0);
  });

  it('prefers maxRuntime when both rules ran out, and leaves CPU-only work to maxRuntime alone', () => {
    const both = workload({
      maxRuntimeSeconds: { value: 30, scope: 'cluster' },
      idleGpuTimeoutSeconds: { value: 30, scope: 'cluster' },
    });
    const tracker = createGpuUsageTracker();
    feed(tracker, T0, T0 + 30_000, 0);
    expect(ruleStops([both], tracker.idleRuns(T0 + 30_000), T0 + 30_000).map((s) => s.reason)).toEqual([
      'MaxRuntimeExceeded',
    ]);
    expect(ruleStops([{ ...w, gpus: [] }], tracker.idleRuns(T0 + 30_000), T0 + 600_000)).toEqual([]);
  });
});

describe('scheduling rules inheritance: lower scopes only tighten', () => {
  it('takes the smaller time and intersects node types, naming the scope of each', () => {
    const eff = effectiveRules(
      { scope: 'cluster', rules: { maxRuntimeSeconds: 86_400, nodeTypes: ['dgx', 'hgx', 'cpu'] } },
      { scope: 'department:research', rules: { maxRuntimeSeconds: 3600, nodeTypes: ['dgx', 'hgx'] } },
      {
        scope: 'project:vision',
        rules: { maxRuntimeSeconds: 7200, idleGpuTimeoutSeconds: 600, nodeTypes: ['hgx'] },
      },
    );
    expect(eff).toEqual({
      maxRuntimeSeconds: { value: 3600, scope: 'department:research' },
      idleGpuTimeoutSeconds: { value: 600, scope: 'project:vision' },
      nodeTypes: { value: ['hgx'], scope: 'project:vision' },
    });
  });

  it('refuses a write that adds a node type or lengthens a time', () => {
    const parent = effectiveRules({
      scope: 'cluster',
      rules: { idleGpuTimeoutSeconds: 600, nodeTypes: ['dgx'] },
    });
    const types = checkRulesTighten(parent, { nodeTypes: ['dgx', 'cpu'] }, 'project:vision');
    expect(!types.ok && types.error.message).toContain('"cpu"');
    const idle = checkRulesTighten(parent, { idleGpuTimeoutSeconds: 1200 }, 'project:vision');
    expect(!idle.ok && idle.error).toMatchObject({
      code: 'TESSERA_E_POLICY_VIOLATION',
      field: 'idleGpuTimeoutSeconds',
    });
    expect(
      checkRulesTighten(parent, { idleGpuTimeoutSeconds: 60, nodeTypes: ['dgx'] }, 'project:vision').ok,
    ).toBe(true);
  });
});

describe('enforcing the rules on the store', () => {
  it('stops a workload past maxRuntime with the rule in its event, and teardown stops its pods', () => {
    const db = openTemp();
    smallOrg(db);
    submitBound(db, 'w1', training('resnet'), [['n1', 0]]);
    const running = T_BIND + 5;
    must(changePhase(db, 'w1', 'Running', 'PodsRunning', running));
    putScoped(db, 'scheduling_rules', 'project:vision', 'training', { maxRuntimeSeconds: 60 }, T_BIND);
    expect(enforceSchedulingRules(db, new Map(), running + 59_999)).toEqual([]);
    const stops = enforceSchedulingRules(db, new Map(), running + 60_000);
    expect(stops.map((s) => s.reason)).toEqual(['MaxRuntimeExceeded']);
    expect(getWorkload(db, 'w1')?.phase).toBe('Stopped');
    const last = listEvents(db, { workload: 'w1' }).at(-1);
    expect(last).toMatchObject({ to: 'Stopped', reason: 'MaxRuntimeExceeded' });
    expect(last?.message).toContain('maxRuntimeSeconds 60 set by project:vision');
    expect(teardown(db).stops.map((s) => s.reason)).toEqual(['stopped by rule: MaxRuntimeExceeded']);
  });
});
