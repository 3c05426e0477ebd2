/**
 * restartPolicy OnFailure on real processes: a pod of a gang killed with SIGKILL stops the whole
 * gang, which is placed and started again under new pods (restarts 1); past backoffLimit the
 * workload is Failed with BackoffLimitExceeded. With Never, a killed pod fails its workload as before.
 */
import { describe, expect, it } from 'vitest';
import { alive, testWorkload, until } from './harness.ts';
import { useCluster } from './use-cluster.ts';

const { cluster, tessera } = useCluster({ n1: '2xH100-80GB', n2: '2xH100-80GB' });

/** A 2-pod gang of test pods that run until stopped, one GPU each. */
function gang(name: string, restart: Record<string, unknown>) {
  const c = cluster();
  return { ...testWorkload(c, name, { type: 'distributed', replicas: 2 }), ...restart };
}

/** The pids journaling for workload `name` right now, one per running copy, after `after` ms since epoch. */
async function runningPids(name: string, count: number, except: ReadonlySet<number> = new Set()) {
  const c = cluster();
  return until(
    () => {
      const pids = [...new Set(c.readJournal(name).map((l) => l.pid))].filter(
        (p) => alive(p) && !except.has(p),
      );
      return pids.length === count ? pids : null;
    },
    `${count} pods of ${name} journaling`,
    20_000,
  );
}

describe('restartPolicy', () => {
  it('OnFailure: a killed pod restarts the whole gang once, under new pods, and restarts shows 1', async () => {
    const c = cluster();
    const w = await c.api.submit(gang('again', { restartPolicy: 'OnFailure', backoffLimit: 2 }));
    await c.api.waitPhase(w.id, 'Running', 20_000);
    const first = await runningPids('again', 2);
    process.kill(first[0] ?? 0, 'SIGKILL');
    // Its partner is stopped by the allocator (not left running), then two new pods run.
    await until(() => first.every((p) => !alive(p)), 'the first attempt to end', 20_000);
    await runningPids('again', 2, new Set(first));
    const back = await c.api.waitPhase(w.id, 'Running', 20_000);
    expect((back as unknown as { restarts: number }).restarts).toBe(1);
    expect(back.pods.filter((p) => p.phase === 'Running')).toHaveLength(2);
    const events = await c.api.events(w.id);
    expect(events.find((e) => e.reason === 'Restarting')?.message).toMatch(
      /^restarting: pod again-[01] failed \(killed by SIGKILL\); restart 1 of 2$/,
    );
    const listed = await tessera('list');
    expect(listed.stdout).toMatch(/again\s+\S+\s+distributed\s+Running\s+2\/2\s+1\s/);
    const described = await tessera('describe', 'again', '-p', c.defaultProject);
    expect(described.stdout).toMatch(/Restarts:\s+1 of 2 \(policy OnFailure\)/);
    await c.api.expect(200, 'POST', `/workloads/${w.id}/stop`);
  }, 90_000);

  it('OnFailure with backoffLimit 0: the first kill fails the workload with BackoffLimitExceeded', async () => {
    const c = cluster();
    const w = await c.api.submit(gang('limit', { restartPolicy: 'OnFailure', backoffLimit: 0 }));
    await c.api.waitPhase(w.id, 'Running', 20_000);
    const pids = await runningPids('limit', 2);
    process.kill(pids[1] ?? 0, 'SIGKILL');
    const failed = await c.api.waitPhase(w.id, 'Failed', 20_000);
    expect(failed.phaseReason).toBe('BackoffLimitExceeded');
    // The partner is stopped with it, as a Kubernetes Job's are.
    await until(() => pids.every((p) => !alive(p)), 'both pods to end', 20_000);
  }, 60_000);
});
