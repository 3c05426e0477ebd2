import { describe, expect, it } from 'vitest';
import { parseWorkloadSpec } from '../../common/workload.ts';
import { probeText } from '../../common/workload-probe.ts';
import { failure, value } from '../result.ts';

const base = {
  name: 'chat',
  project: 'nlp',
  type: 'inference',
  command: ['python', 'serve.py'],
  ports: [{ name: 'http' }],
};

describe('readinessProbe in the workload spec', () => {
  it('normalises an http probe to milliseconds with the documented defaults', () => {
    const spec = value(parseWorkloadSpec({ ...base, readinessProbe: { http: { port: 'http' } } }));
    expect(spec.ports).toEqual([{ name: 'http' }]);
    expect(spec.readinessProbe).toEqual({
      kind: 'http',
      port: 'http',
      path: '/',
      initialDelayMs: 0,
      periodMs: 2000,
      timeoutMs: 1000,
      failureThreshold: 3,
    });
  });

  it('takes a tcp probe with fractional seconds and Kubernetes successThreshold 1', () => {
    const spec = value(
      parseWorkloadSpec({
        ...base,
        readinessProbe: {
          tcp: { port: 'http' },
          initialDelaySeconds: 5,
          periodSeconds: 0.5,
          timeoutSeconds: 0.25,
          failureThreshold: 1,
          successThreshold: 1,
        },
      }),
    );
    expect(spec.readinessProbe).toEqual({
      kind: 'tcp',
      port: 'http',
      path: null,
      initialDelayMs: 5000,
      periodMs: 500,
      timeoutMs: 250,
      failureThreshold: 1,
    });
  });

  it('describes a probe in one line', () => {
    const http = value(
      parseWorkloadSpec({ ...base, readinessProbe: { http: { port: 'http', path: '/health' } } }),
    );
    expect(http.readinessProbe && probeText(http.readinessProbe)).toBe(
      'http GET :http/health every 2s (timeout 1s, 3 failures, after 0s)',
    );
    const tcp = value(
      parseWorkloadSpec({ ...base, readinessProbe: { tcp: { port: 'http' }, periodSeconds: 0.5 } }),
    );
    expect(tcp.readinessProbe && probeText(tcp.readinessProbe)).toBe(
      'tcp :http every 0.5s (timeout 1s, 3 failures, after 0s)',
    );
  });

  it('a spec without a probe or ports has no probe, and an empty list of ports', () => {
    const { ports: _p, ...noPorts } = base;
    const spec = value(parseWorkloadSpec(noPorts));
    expect('readinessProbe' in spec).toBe(false);
    expect(spec.ports).toEqual([]);
  });

  it.each([
    [
      { http: { port: 'grpc' } },
      'readinessProbe.http.port: "grpc" is not one of the spec\'s ports (its ports are http)',
    ],
    [{}, 'readinessProbe: needs http or tcp'],
    [{ http: { port: 'http' }, tcp: { port: 'http' } }, 'has both http and tcp'],
    [
      { http: { port: 'http', path: 'health' } },
      'readinessProbe.http.path: "health" is not an absolute URL path',
    ],
    [{ http: { port: 'http', path: '/a b' } }, 'is not an absolute URL path'],
    [{ tcp: { port: 'http' }, periodSeconds: 0.01 }, 'readinessProbe.periodSeconds: 0.01 is below 0.1'],
    [{ tcp: { port: 'http' }, failureThreshold: 0 }, 'readinessProbe.failureThreshold'],
    [{ tcp: { port: 'http' }, successThreshold: 2 }, 'readinessProbe.successThreshold'],
    [{ exec: ['true'], tcp: { port: 'http' } }, 'fields accepted here: http, tcp'],
  ])('refuses %j naming the field', (probe, message) => {
    expect(failure(parseWorkloadSpec({ ...base, readinessProbe: probe })).message).toContain(message);
  });

  it('a probe needs the spec to name its port', () => {
    const { ports: _p, ...noPorts } = base;
    const e = failure(parseWorkloadSpec({ ...noPorts, readinessProbe: { tcp: { port: 'http' } } }));
    expect(e.message).toContain('the spec names no ports');
    expect(e.message).toContain('add ports: [{name: "http"}]');
  });

  it('port names are DNS labels, each once', () => {
    expect(failure(parseWorkloadSpec({ ...base, ports: [{ name: 'HTTP' }] })).message).toContain(
      'ports.0.name',
    );
    expect(failure(parseWorkloadSpec({ ...base, ports: [{ name: 'a' }, { name: 'a' }] })).message).toContain(
      'listed twice',
    );
  });
});
