import { describe, expect, it } from 'vitest';
import { podSpecOf } from '../../../allocator/service/dispatch.ts';
import { hostPortOf } from '../../../allocator/service/pod-ports.ts';
import type { WorkloadRecord } from '../../../allocator/store/workloads.ts';
import { decodeFrame, encodeFrame, makeFrame } from '../../../common/wire.ts';
import { parseWorkloadSpec } from '../../../common/workload.ts';
import { value } from '../../result.ts';

function record(extra: Record<string, unknown>): WorkloadRecord {
  const spec = value(
    parseWorkloadSpec({ name: 'chat', project: 'nlp', type: 'inference', command: ['serve'], ...extra }),
  );
  return {
    ...{ id: 'w1', name: spec.name, project: spec.project, type: spec.type, spec },
    ...{
      phase: 'Initializing',
      phaseReason: '',
      createdMs: 0,
      nextPodOrdinal: 1,
      belowMinSinceMs: null,
      restarts: 0,
    },
  };
}

const probed = {
  ports: [{ name: 'metrics' }, { name: 'http' }],
  readinessProbe: { http: { port: 'http', path: '/ready' }, periodSeconds: 1 },
};

describe('podSpecOf: readiness', () => {
  it('without a probe: ready once started, as before; the frame decodes with no probe, as old frames do', () => {
    const spec = podSpecOf(record({}));
    expect(spec.readiness).toEqual({ linePrefix: null, delayMs: 0, probe: null });
    const frame = makeFrame({
      case: 'startPod',
      value: { podId: 'nlp/chat-0', epoch: 1, spec, gpuGrants: [] },
    });
    const back = value(decodeFrame(encodeFrame(frame)));
    expect(back.body.case === 'startPod' && back.body.value.spec.readiness).toEqual(spec.readiness);
  });

  it("maps the spec's probe to the pod's host port for the named port; the rules it replaces are off", () => {
    const spec = podSpecOf(record(probed), null, {}, { metrics: 40_007, http: 40_008 });
    expect(spec.readiness).toEqual({
      linePrefix: null,
      // For agents from before probes: ready once started, as without one.
      delayMs: 0,
      probe: {
        kind: 'http',
        port: 40_008,
        path: '/ready',
        initialDelayMs: 0,
        periodMs: 1000,
        timeoutMs: 1000,
        failureThreshold: 3,
      },
    });
    // And the frame round-trips through the wire with it.
    const frame = makeFrame({
      case: 'startPod',
      value: { podId: 'nlp/chat-0', epoch: 1, spec, gpuGrants: [] },
    });
    const back = value(decodeFrame(encodeFrame(frame)));
    expect(back.body.case === 'startPod' && back.body.value.spec.readiness).toEqual(spec.readiness);
  });

  it('a probe whose port has no host port cannot start: the message says which port', () => {
    expect(() => podSpecOf(record(probed), null, {}, { metrics: 40_007 })).toThrow(
      /readiness probe names port http, which has no host port/,
    );
  });

  it('hostPortOf reads only own entries', () => {
    expect(hostPortOf({ http: 1 }, 'http')).toBe(1);
    expect(hostPortOf({ http: 1 }, 'toString')).toBeUndefined();
  });
});
