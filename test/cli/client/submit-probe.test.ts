import { describe, expect, it } from 'vitest';
import { buildSubmitSpec } from '../../../cli/commands/submit.ts';
import { probeTarget } from '../../../cli/commands/submit-probe.ts';
import { CliError } from '../../../cli/errors.ts';
import { parseWorkloadSpec } from '../../../common/workload.ts';

function usageMessage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof CliError) return e.message;
    throw e;
  }
  throw new Error('expected a usage error');
}

describe('submit --probe', () => {
  it('http:PORT/PATH and its timing flags become readinessProbe, which the allocator accepts', () => {
    const body = buildSubmitSpec(
      'inference',
      'chat',
      {
        project: 'nlp',
        probe: 'http:http/health',
        probeDelay: '5',
        probePeriod: '500ms',
        probeTimeout: '0.25',
        probeFailures: '2',
      },
      ['python', 'serve.py'],
    );
    expect(body.readinessProbe).toEqual({
      http: { port: 'http', path: '/health' },
      initialDelaySeconds: 5,
      periodSeconds: 0.5,
      timeoutSeconds: 0.25,
      failureThreshold: 2,
    });
    const spec = parseWorkloadSpec({ ...body, ports: [{ name: 'http' }] });
    expect(spec.ok && spec.value.readinessProbe?.periodMs).toBe(500);
  });

  it('tcp:PORT, and http:PORT without a path (the default /)', () => {
    expect(probeTarget('tcp:grpc')).toEqual({ tcp: { port: 'grpc' } });
    expect(probeTarget('http:web')).toEqual({ http: { port: 'web' } });
  });

  it.each(['udp:x', 'http:', 'tcp:x/health', 'http'])(
    'refuses --probe %s with the accepted forms',
    (text) => {
      expect(usageMessage(() => probeTarget(text))).toContain('must be http:PORT/PATH or tcp:PORT');
    },
  );

  it('refuses timing flags without --probe, and bad values', () => {
    expect(
      usageMessage(() => buildSubmitSpec('inference', 'c', { project: 'p', probePeriod: '2' }, ['x'])),
    ).toContain('give --probe');
    expect(
      usageMessage(() =>
        buildSubmitSpec('inference', 'c', { project: 'p', probe: 'tcp:a', probePeriod: 'soon' }, ['x']),
      ),
    ).toContain("--probe-period 'soon' must be seconds");
  });
});
