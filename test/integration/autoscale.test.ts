/**
 * Autoscaling and replica health on real processes: an allocator with a short scale-down window and
 * one sim agent over loopback; the "model" is examples/inference/echo-server.mjs holding each answer
 * DELAY_MS, behind a readiness probe on its http port, called through /serve/PROJECT/WORKLOAD/.
 * Bounded load raises the replicas to the maximum and they share it; idle brings them to zero; a
 * request at zero waits for a cold start; a replica killed with SIGKILL is replaced.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Cluster, until } from './harness.ts';
import { useCluster } from './use-cluster.ts';

const { cluster } = useCluster({ n1: '2xH100-80GB' }, { extra: ['--serve-scale-down-window', '2s'] });

/** What the echo server answers. */
interface Echo {
  pod: string;
  pid: number;
  port: number;
}

/** The workload JSON fields these tests read. */
interface View {
  id: string;
  url: string;
  phase: string;
  readyReplicas: number;
  wantedReplicas?: number;
  endpoints: { pod: string; address: string; ports: Record<string, number>; ready: boolean }[];
}

/** An echo replica holding each answer `delayMs`, with ports and an HTTP readiness probe. */
function echoSpec(project: string, name: string, delayMs: number, more: Record<string, unknown>) {
  return {
    name,
    project,
    type: 'inference',
    command: [process.execPath, resolve('examples/inference/echo-server.mjs')],
    env: { DELAY_MS: String(delayMs) },
    ports: [{ name: 'http' }],
    readinessProbe: { http: { path: '/healthz', port: 'http' }, periodSeconds: 0.2, failureThreshold: 1 },
    resources: { cpu: '100m', memory: '64MiB' },
    ...more,
  };
}

/** An echo inference workload of `replicas` submitted, with its view and a call that names the answering replica. */
async function echoWorkload(c: Cluster, name: string, replicas: number) {
  const admin = { authorization: `Bearer ${c.adminToken}` };
  const created = (await c.api.expect(
    201,
    'POST',
    '/workloads',
    echoSpec(c.defaultProject, name, 0, { replicas }),
  )) as View & { restartPolicy: string };
  const view = async () =>
    (await c.api.expect(200, 'GET', `/workloads/${created.id}`)) as View & { restarts: number };
  const who = async () =>
    (await fetch(`${created.url}who`, { headers: admin, signal: AbortSignal.timeout(10_000) })) as Response;
  return { created, view, who };
}

describe('autoscaling through /serve/PROJECT/WORKLOAD/', () => {
  it('load raises replicas to the maximum and they share it; idle scales to zero; a cold start succeeds', async () => {
    const c = cluster();
    const admin = { authorization: `Bearer ${c.adminToken}` };
    const created = (await c.api.expect(
      201,
      'POST',
      '/workloads',
      echoSpec(c.defaultProject, 'scaled', 300, {
        autoscaling: {
          metric: 'concurrency',
          target: 1,
          minReplicas: 0,
          maxReplicas: 3,
          scaleToZeroAfterSeconds: 2,
        },
      }),
    )) as View;
    const view = async () => (await c.api.expect(200, 'GET', `/workloads/${created.id}`)) as View;
    const call = async (): Promise<Echo> => {
      const r = await fetch(`${created.url}predict`, { headers: admin, signal: AbortSignal.timeout(20_000) });
      expect(r.status).toBe(200);
      return (await r.json()) as Echo;
    };

    // Six callers in a loop, each with one request in flight: concurrency 6 against a target of 1.
    const t0 = Date.now();
    let stop = false;
    const answers: { atMs: number; echo: Echo }[] = [];
    const workers = Array.from({ length: 6 }, async () => {
      while (!stop) answers.push({ atMs: Date.now(), echo: await call() });
    });
    const full = await until(
      async () => {
        const v = await view();
        return v.readyReplicas === 3 ? v : undefined;
      },
      'three ready replicas under load',
      20_000,
    );
    const scaledUpMs = Date.now() - t0;
    expect(full.wantedReplicas).toBe(3);
    expect(full.endpoints.filter((e) => e.ready)).toHaveLength(3);
    expect(new Set(full.endpoints.map((e) => e.ports.http)).size).toBe(3);
    // Once all three are ready, every one of them takes a share of the load.
    const since = Date.now();
    await until(
      () => new Set(answers.filter((a) => a.atMs >= since).map((a) => a.echo.pod)).size === 3,
      'answers from all three replicas',
      10_000,
    );
    stop = true;
    await Promise.all(workers);
    const shared = new Map<string, number>();
    for (const a of answers.filter((x) => x.atMs >= since))
      shared.set(a.echo.pod, (shared.get(a.echo.pod) ?? 0) + 1);

    // Idle: down after the 2 s window, to zero after 2 s without a request.
    const idleAt = Date.now();
    await until(
      async () => {
        const v = await view();
        return v.wantedReplicas === 0 && v.endpoints.length === 0;
      },
      'no replica once idle',
      15_000,
    );
    const scaledDownMs = Date.now() - idleAt;

    // A request at zero replicas waits for one to start and is answered.
    const coldAt = Date.now();
    const cold = await call();
    const coldStartMs = Date.now() - coldAt;
    expect(cold.pod).not.toBe('');
    expect((await view()).readyReplicas).toBe(1);
    process.stderr.write(
      `autoscale: 3 replicas in ${scaledUpMs} ms, shares ${JSON.stringify([...shared.values()])}; 0 replicas ${scaledDownMs} ms after the load; cold start ${coldStartMs} ms\n`,
    );
  }, 60_000);

  it('a killed replica is replaced: the workload is Degraded, then Running again', async () => {
    const { view, who } = await echoWorkload(cluster(), 'healed', 2);
    await until(
      async () => {
        const v = await view();
        return v.phase === 'Running' && v.readyReplicas === 2;
      },
      'two ready replicas',
      15_000,
    );
    const victim = (await (await who()).json()) as Echo;
    const phases: string[] = [];
    const killedAt = Date.now();
    process.kill(victim.pid, 'SIGKILL');
    const healed = await until(
      async () => {
        const v = await view();
        if (phases.at(-1) !== v.phase) phases.push(v.phase);
        return phases.includes('Degraded') && v.phase === 'Running' && v.readyReplicas === 2 ? v : undefined;
      },
      'Degraded, then Running with two ready replicas',
      20_000,
      50,
    );
    // The wire pod id is `<workload id>_<pod name>`.
    expect(healed.endpoints.map((e) => e.pod)).not.toContain(victim.pod.split('_')[1]);
    expect(phases).toEqual(['Running', 'Degraded', 'Running']);
    // The replacement serves.
    expect((await who()).status).toBe(200);
    process.stderr.write(`autoscale: killed replica replaced in ${Date.now() - killedAt} ms\n`);
  }, 40_000);

  it('the only replica killed is restarted (inference defaults to OnFailure), and serves again', async () => {
    const { created, view, who } = await echoWorkload(cluster(), 'lonely', 1);
    expect(created.restartPolicy).toBe('OnFailure');
    await until(async () => (await view()).readyReplicas === 1, 'one ready replica', 15_000);
    const victim = (await (await who()).json()) as Echo;
    process.kill(victim.pid, 'SIGKILL');
    const back = await until(
      async () => {
        const v = await view();
        return v.phase === 'Running' && v.readyReplicas === 1 && v.restarts === 1 ? v : undefined;
      },
      'the replica restarted and ready',
      20_000,
      50,
    );
    expect(back.endpoints.map((e) => e.pod)).not.toContain(victim.pod.split('_')[1]);
    expect((await who()).status).toBe(200);
  }, 40_000);
});
