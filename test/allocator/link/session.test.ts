import { describe, expect, it } from 'vitest';
import { issueNodeCredential } from '../../../allocator/identity/index.ts';
import { writeEveryMs } from '../../../allocator/link/heard.ts';
import { wirePodId } from '../../../allocator/link/pod-id.ts';
import { applyPlan } from '../../../allocator/store/apply-plan.ts';
import { getNode } from '../../../allocator/store/nodes.ts';
import { submitWorkload } from '../../../allocator/store/workloads.ts';
import { DEFAULT_LEASE_MS } from '../../../common/disconnect.ts';
import { type Frame, makeFrame, WS_CLOSE } from '../../../common/wire.ts';
import { noContainer } from '../../wire-pod-spec.ts';
import { must, openTemp, smallOrg, T0, training } from '../store/helpers.ts';
import { credentialOf, type Harness, join, startLink, status } from './harness.ts';

/** The credential of a node the store already knows (a join token may not register it again). */
const credential = (h: Harness, node: string): string => issueNodeCredential(h.tokens, node);

/** A store with nodes n1..n3 and pod `t-0` of workload w1 bound to n1 at epoch 1. */
function storeWithPodOnN1() {
  const db = openTemp();
  smallOrg(db);
  must(submitWorkload(db, training('t'), T0, { id: 'w1' }));
  const grant = { uuid: 'GPU-n1-0', gpuMilli: 1000, memoryMiB: 81_920, memoryLimitMiB: 81_920 };
  applyPlan(
    db,
    {
      binds: [{ group: 'w1', pod: 't-0', node: 'n1', grants: [grant], action: 'allocate' }],
      evictions: [],
      phaseChanges: [],
      pending: [],
    },
    T0 + 1,
  );
  return db;
}

const POD = wirePodId('w1', 't-0');

const startPod = (podId: string, epoch: number): Frame =>
  makeFrame({
    case: 'startPod',
    value: {
      podId,
      epoch,
      spec: {
        workload: 't',
        project: 'vision',
        command: ['python', 'train.py'],
        env: {},
        networkEnv: {},
        workingDir: null,
        priority: 50,
        graceSeconds: 30,
        readiness: null,
        rescheduleAfterMs: null,
        ...noContainer(),
      },
      gpuGrants: [],
    },
  });

describe('agent link sessions', () => {
  it('Welcome lists the pods the store assigns to the node, with their epochs', async () => {
    const h = await startLink({ db: storeWithPodOnN1() });
    const n1 = await join(h.url, credential(h, 'n1'), 'n1');
    expect(n1.welcome.body.case === 'welcome' && n1.welcome.body.value.desiredPods).toEqual([
      { podId: POD, epoch: 1 },
    ]);
    const n2 = await join(h.url, credential(h, 'n2'), 'n2');
    expect(n2.welcome.body.case === 'welcome' && n2.welcome.body.value.desiredPods).toEqual([]);
  });

  it('passes an identical repeated report on once, and again after 30 s or when it changes', async () => {
    const h = await startLink({ db: storeWithPodOnN1() });
    const { client } = await join(h.url, credential(h, 'n1'), 'n1');
    client.send(status(1, [{ podId: POD, epoch: 1 }]));
    client.send(status(2, [{ podId: POD, epoch: 1 }]));
    await expect.poll(() => h.link.stats().statusFrames).toBe(2);
    expect(h.link.stats()).toMatchObject({ acceptedReports: 1, repeatedReports: 1 });
    h.clock.ms = T0 + 30_000;
    client.send(status(3, [{ podId: POD, epoch: 1 }]));
    await expect.poll(() => h.link.stats().statusFrames).toBe(3);
    expect(h.link.stats().acceptedReports).toBe(2);
    client.send(status(4, [{ podId: POD, epoch: 1, state: 'exited', exitCode: 0 }]));
    await expect.poll(() => h.link.stats().statusFrames).toBe(4);
    expect(h.link.stats().acceptedReports).toBe(3);
  });

  it("Status updates the node's last_seen and passes on reports about its own pods", async () => {
    const h = await startLink({ db: storeWithPodOnN1() });
    const { client } = await join(h.url, credential(h, 'n1'), 'n1');
    h.clock.ms = T0 + 5000;
    client.send(status(1, [{ podId: POD, epoch: 1 }]));
    await expect.poll(() => h.link.stats().statusFrames).toBe(1);
    // Heard-from times reach the store when leases are checked, and only once the stored one is
    // writeEveryMs old (heard.ts): the join wrote T0, still fresh for every reader at T0 + 5 s.
    expect(h.link.checkLeases(T0 + 5000)).toEqual([]);
    expect(getNode(h.db, 'n1')?.lastSeenMs).toBe(T0);
    const every = writeEveryMs(DEFAULT_LEASE_MS);
    expect(h.link.checkLeases(T0 + every)).toEqual([]);
    expect(getNode(h.db, 'n1')?.lastSeenMs).toBe(T0 + 5000);
    expect(h.reports).toEqual([
      { node: 'n1', report: expect.objectContaining({ podId: POD, state: 'running' }) },
    ]);
  });

  it("refuses, and never applies, a report about another node's pod or a stale epoch", async () => {
    const h = await startLink({ db: storeWithPodOnN1() });
    const { client } = await join(h.url, credential(h, 'n2'), 'n2');
    client.send(
      status(1, [
        { podId: POD, epoch: 1 },
        { podId: POD, epoch: 7 },
        { podId: 'w1_nope-0', epoch: 1 },
      ]),
    );
    await expect.poll(() => h.link.stats().refusedReports).toBe(3);
    expect(h.reports).toEqual([]);
    expect(h.link.stats().acceptedReports).toBe(0);
    // The session stays open: a confused agent is corrected by its desired set, not disconnected.
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });

  it('marks a node silent for longer than leaseMs lost, reports it, and fences its session', async () => {
    const h = await startLink({ leaseMs: 40_000 });
    const { client } = await join(h.url, h.joinToken, 'n1');
    expect(h.link.checkLeases(T0 + 40_000)).toEqual([]);
    h.clock.ms = T0 + 10_000;
    client.send(status(1));
    await expect.poll(() => h.link.stats().statusFrames).toBe(1);
    expect(h.link.checkLeases(T0 + 10_000)).toEqual([]);
    expect(getNode(h.db, 'n1')?.lastSeenMs).toBe(T0 + 10_000);
    // Heard again while the stored time is fresh: held back, but written before it could look silent.
    h.clock.ms = T0 + 15_000;
    client.send(status(2));
    await expect.poll(() => h.link.stats().statusFrames).toBe(2);
    expect(h.link.checkLeases(T0 + 15_000)).toEqual([]);
    expect(getNode(h.db, 'n1')?.lastSeenMs).toBe(T0 + 10_000);
    expect(h.link.checkLeases(T0 + 50_001)).toEqual([]);
    expect(getNode(h.db, 'n1')?.lastSeenMs).toBe(T0 + 15_000);
    expect(h.link.checkLeases(T0 + 55_000)).toEqual([]);
    expect(h.link.checkLeases(T0 + 55_001)).toEqual(['n1']);
    expect(getNode(h.db, 'n1')?.lost).toBe(true);
    expect(h.changes).toContainEqual({ node: 'n1', change: 'lost' });
    expect((await client.closed).code).toBe(WS_CLOSE.fenced);
    expect(h.link.connectedNodes()).toEqual([]);
  });

  it('dispatch delivers a StartPod to the right node only, and is false for a node not connected', async () => {
    const h = await startLink();
    const a = await join(h.url, h.joinToken, 'a');
    const b = await join(h.url, h.joinToken, 'b');
    expect(h.link.dispatch('b', startPod('w1_t-0', 2))).toBe(true);
    const got = await b.client.next();
    expect(got.body).toMatchObject({ case: 'startPod', value: { podId: 'w1_t-0', epoch: 2 } });
    expect(h.link.dispatch('zzz', startPod('w1_t-0', 2))).toBe(false);
    // a got nothing: its next frame is the one sent to it after.
    h.link.dispatch(
      'a',
      makeFrame({ case: 'stopPod', value: { podId: 'w1_t-0', epoch: 1, reason: 'moved', graceSeconds: 5 } }),
    );
    expect((await a.client.next()).body.case).toBe('stopPod');
    expect(() => h.link.dispatch('a', status(1))).toThrow(/does not send status/);
  });

  it('a second connection for the same node replaces the first, which is closed with 4409', async () => {
    const h = await startLink();
    const first = await join(h.url, h.joinToken, 'n1');
    const second = await join(h.url, credentialOf(first.welcome), 'n1');
    expect((await first.client.closed).code).toBe(WS_CLOSE.fenced);
    expect(h.link.connectedNodes()).toEqual(['n1']);
    expect(h.link.dispatch('n1', startPod('w1_t-0', 1))).toBe(true);
    expect((await second.client.next()).body.case).toBe('startPod');
    // The old socket's close did not unregister the new session or report a disconnect.
    expect(h.changes).toEqual([{ node: 'n1', change: 'connected' }]);
  });
});
