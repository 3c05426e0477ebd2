/**
 * Readiness probes through real processes: an inference workload whose pod (a small HTTP server)
 * answers 503 while it loads is Initializing until its probe passes, Running after, and Degraded
 * (PodsNotReady) once the server stops answering.
 */
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from './harness.ts';

const SERVER = fileURLToPath(new URL('../agent/runner/fixtures/probe-server.mjs', import.meta.url));

let c: Cluster;
let port = 0;

function get(p: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: p, path, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  c = await startCluster({ n1: '1xH100-80GB' });
}, 30_000);

afterAll(async () => {
  await c?.cleanup();
});

beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {
    process.stderr.write(c.logs());
  });
});

describe('readiness probe over real processes', () => {
  it('Initializing while the probe fails, Running once it passes, Degraded when the server stops answering', async () => {
    const t0 = Date.now();
    const w = await c.api.submit({
      name: 'chat',
      project: c.defaultProject,
      type: 'inference',
      // The test project has no deserved quota for non-preemptible work.
      priorityClass: 'train',
      command: [process.execPath, SERVER],
      // The pod listens on $PORT, the host port the allocator gave its first (only) port.
      env: { WARMUP_REQUESTS: '5' },
      resources: { gpuFraction: 0.25 },
      ports: [{ name: 'http' }],
      readinessProbe: { http: { port: 'http', path: '/health' }, periodSeconds: 0.2, failureThreshold: 2 },
    });
    const running = await c.api.waitPhase(w.id, 'Running', 20_000);
    // After the merge: the workload JSON's endpoints (ports helper) give the pod's host port.
    port =
      (running as unknown as { endpoints: { ports: Record<string, number> }[] }).endpoints[0]?.ports.http ??
      0;
    const tRunning = Date.now() - t0;
    let events = await c.api.events(w.id);
    expect(events.map((e) => e.to)).toEqual(['Creating', 'Pending', 'Initializing', 'Running']);
    expect(await get(port, '/hang')).toBe(200);
    const tHang = Date.now();
    const degraded = await c.api.waitPhase(w.id, 'Degraded', 20_000);
    const tDegraded = Date.now() - tHang;
    expect(degraded.pods[0]?.phase).toBe('Starting');
    events = await c.api.events(w.id);
    expect(events.at(-1)).toMatchObject({ to: 'Degraded', reason: 'PodsNotReady' });
    process.stderr.write(`figures: submit->Running ${tRunning} ms, hang->Degraded ${tDegraded} ms\n`);
    await c.api.expect(200, 'POST', `/workloads/${w.id}/stop`);
    await c.api.waitPhase(w.id, 'Stopped', 20_000);
  });
});
