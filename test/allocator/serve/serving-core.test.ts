import { describe, expect, it } from 'vitest';
import { decideReplicas, initialScalerState, type ScalerState } from '../../../allocator/serve/autoscaler.ts';
import { Balancer } from '../../../allocator/serve/balancer.ts';
import { LoadMeter, percentile } from '../../../allocator/serve/load-meter.ts';
import { restOf } from '../../../allocator/serve/proxy-route.ts';
import { memberRange } from '../../../allocator/store/snapshot.ts';
import { parseWorkloadSpec } from '../../../common/workload.ts';
import type { Autoscaling } from '../../../common/workload-serving.ts';

describe('balancer', () => {
  it('sends each request to the replica with the fewest in flight', () => {
    const b = new Balancer();
    const keys = ['a', 'b', 'c'];
    const doneA = b.start('a');
    b.start('b');
    expect(b.pick(keys)).toBe('c');
    doneA();
    b.start('c');
    expect(b.pick(keys)).toBe('a');
  });

  it('breaks ties round robin so idle replicas share requests evenly', () => {
    const b = new Balancer();
    const seen = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const k = b.pick(['a', 'b', 'c']) ?? '';
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
    expect([...seen.values()]).toEqual([10, 10, 10]);
    expect(b.pick([])).toBeUndefined();
  });

  it('counts a finished request once however often it is ended', () => {
    const b = new Balancer();
    const done = b.start('a');
    b.start('a');
    done();
    done();
    expect(b.inFlight('a')).toBe(1);
  });
});

describe('load meter', () => {
  it('measures in-flight, requests per second over the window and p95 latency', () => {
    const m = new LoadMeter(10_000);
    const ends = [0, 1, 2, 3].map((i) => m.begin(1000 + i));
    ends[0]?.(1100);
    ends[1]?.(1301);
    const s = m.sample(2000);
    expect(s.concurrency).toBe(2);
    expect(s.requestsPerSecond).toBeCloseTo(0.4);
    expect(s.latencyP95Ms).toBe(300);
    expect(m.sample(20_000).requestsPerSecond).toBe(0);
    expect(percentile([5, 1, 3], 0.5)).toBe(3);
  });
});

const SCALE: Autoscaling = {
  metric: 'concurrency',
  target: 2,
  minReplicas: 0,
  maxReplicas: 4,
  scaleToZeroAfterSeconds: 60,
};

function step(
  state: ScalerState,
  nowMs: number,
  concurrency: number,
  lastActivityMs: number | null,
  a = SCALE,
) {
  return decideReplicas(state, {
    autoscaling: a,
    load: { concurrency, requestsPerSecond: 0, latencyP95Ms: 0, lastActivityMs },
    ready: 1,
    nowMs,
    stabilisationMs: 30_000,
  });
}

describe('autoscaler (fake clock)', () => {
  it('scales up at once to ceil(observed / target), never past maxReplicas', () => {
    let d = step(initialScalerState(0), 1000, 5, 1000);
    expect(d.replicas).toBe(3);
    d = step(d.state, 2000, 50, 2000);
    expect(d.replicas).toBe(4);
  });

  it('scales down only after the stabilisation window, then to zero once idle long enough', () => {
    let d = step(initialScalerState(0), 0, 6, 0);
    expect(d.replicas).toBe(3);
    d = step(d.state, 10_000, 0, 10_000);
    expect(d.replicas).toBe(3);
    d = step(d.state, 31_000, 0, 10_000);
    expect(d.replicas).toBe(1);
    d = step(d.state, 69_000, 0, 10_000);
    expect(d.replicas).toBe(1);
    d = step(d.state, 70_000, 0, 10_000);
    expect(d.replicas).toBe(0);
    // A request at zero asks for one replica at once (the cold start).
    d = step(d.state, 80_000, 1, 80_000);
    expect(d.replicas).toBe(1);
  });

  it('keeps minReplicas however idle', () => {
    const d = step(initialScalerState(0), 999_000, 0, null, { ...SCALE, minReplicas: 2 });
    expect(d.replicas).toBe(2);
  });

  it('scales latency from the ready replicas by how far p95 is off target', () => {
    const d = decideReplicas(initialScalerState(0), {
      autoscaling: { ...SCALE, metric: 'latencyP95Ms', target: 100, minReplicas: 1 },
      load: { concurrency: 1, requestsPerSecond: 5, latencyP95Ms: 250, lastActivityMs: 0 },
      ready: 1,
      nowMs: 0,
      stabilisationMs: 30_000,
    });
    expect(d.replicas).toBe(3);
  });
});

describe('the autoscaler drives the elastic range', () => {
  it('caps the range at the wanted count, down to zero', () => {
    expect(memberRange({ minReplicas: 1, maxReplicas: 4 }, undefined)).toEqual({
      minMember: 1,
      maxMember: 4,
    });
    expect(memberRange({ minReplicas: 1, maxReplicas: 4 }, 3)).toEqual({ minMember: 1, maxMember: 3 });
    expect(memberRange({ minReplicas: 1, maxReplicas: 4 }, 0)).toEqual({ minMember: 0, maxMember: 0 });
    expect(memberRange({ minReplicas: 2, maxReplicas: 4 }, 9)).toEqual({ minMember: 2, maxMember: 4 });
  });
});

describe('serving spec fields', () => {
  const base = { name: 'm', project: 'p', command: ['node', 's.mjs'] };

  it('autoscaling sets the replica range; minReplicas 0 needs scaleToZeroAfterSeconds', () => {
    const r = parseWorkloadSpec({ ...base, type: 'inference', autoscaling: { ...SCALE } });
    expect(r.ok && [r.value.minReplicas, r.value.maxReplicas, r.value.replicas]).toEqual([1, 4, 1]);
    const bad = parseWorkloadSpec({
      ...base,
      type: 'inference',
      autoscaling: { metric: 'concurrency', target: 1, minReplicas: 0, maxReplicas: 2 },
    });
    expect(!bad.ok && bad.error.message).toMatch(/autoscaling.minReplicas.*scaleToZeroAfterSeconds/);
  });

  it('refuses autoscaling outside inference and tool outside workspaces, naming the field', () => {
    const a = parseWorkloadSpec({ ...base, type: 'training', autoscaling: SCALE });
    expect(!a.ok && a.error.message).toMatch(/autoscaling/);
    const t = parseWorkloadSpec({ ...base, type: 'inference', tool: 'jupyter' });
    expect(!t.ok && t.error.message).toMatch(/tool/);
    const w = parseWorkloadSpec({ ...base, type: 'workspace', tool: 'jupyter' });
    expect(w.ok && [w.value.tool, w.value.toolPort, w.value.public]).toEqual(['jupyter', 'tool', false]);
  });

  it('passes the path below /serve/P/W/ through as the caller encoded it', () => {
    expect(restOf('/serve/p/w/v1/a%20b?x=1')).toBe('v1/a%20b');
    expect(restOf('/serve/p/w/')).toBe('');
  });
});
