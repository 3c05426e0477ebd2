import { describe, expect, it } from 'vitest';
import { applyPodReport } from '../../../allocator/lifecycle/reports.ts';
import { wirePodId } from '../../../allocator/link/pod-id.ts';
import { createDispatcher, type Dispatcher } from '../../../allocator/service/dispatch.ts';
import { applyPlan } from '../../../allocator/store/apply-plan.ts';
import type { Db } from '../../../allocator/store/db.ts';
import { listEvents } from '../../../allocator/store/events.ts';
import { getWorkload } from '../../../allocator/store/workloads.ts';
import { encodeFrame, type Frame, type Status, type WirePodStatus } from '../../../common/wire.ts';
import {
  bind,
  distributed,
  grant,
  openTemp,
  plan,
  podOf,
  report,
  smallOrg,
  submitBound,
  T0,
  training,
} from '../lifecycle/helpers.ts';

const HEARTBEAT_MS = 500;
const RESEND_MS = 5000;

/** A dispatcher whose `send` records frames to connected nodes and refuses the rest. */
interface Wire {
  db: Db;
  d: Dispatcher;
  sent: { node: string; frame: Frame }[];
  connected: Set<string>;
}

/** With `encode`, `send` encodes each frame as the link does, so one the wire refuses throws there. */
function wire(db: Db, encode = false): Wire {
  const sent: Wire['sent'] = [];
  const connected = new Set(['n1', 'n2', 'n3']);
  const d = createDispatcher(
    db,
    (node, frame) => {
      if (!connected.has(node)) return false;
      if (encode) encodeFrame(frame);
      sent.push({ node, frame });
      return true;
    },
    { resendMs: RESEND_MS, heartbeatMs: HEARTBEAT_MS },
  );
  return { db, d, sent, connected };
}

/** smallOrg plus training `w1` (pod t-0 on GPU 0 of n1) with an env and the build priority class. */
function oneBound(): Wire {
  const db = openTemp();
  smallOrg(db);
  submitBound(db, 'w1', { ...training('t'), env: { EPOCHS: '3' }, priorityClass: 'build' }, [['n1', 0]]);
  return wire(db);
}

const cases = (w: Wire) => w.sent.map((s) => `${s.node}:${s.frame.body.case}`);

/** Evicts w1's t-0 from n1 (now Stopping) and binds w2's u-0 to the same GPU in one plan. */
function evictAndRebind(w: Wire): void {
  const p = podOf(w.db, 'w1', 't-0');
  applyPodReport(w.db, report(p, 'ready'), p, T0 + 20);
  submitBound(w.db, 'w2', training('u', 'nlp'), []);
  applyPlan(
    w.db,
    plan({
      evictions: [{ group: 'w1', pod: 't-0', node: 'n1', action: 'reclaim', reason: 'reclaimed by nlp' }],
      phaseChanges: [{ group: 'w1', to: 'Pending', reason: 'reclaimed by nlp' }],
      binds: [bind('w2', 'u-0', 'n1', 0)],
    }),
    T0 + 30,
  );
}

function status(states: WirePodStatus[]): Status {
  return { seq: 1, atMs: T0, gpuSamples: [], podStates: states };
}

describe('dispatcher sync', () => {
  it("sends a Bound pod's StartPod with its epoch, grants and the workload's spec", () => {
    const w = oneBound();
    expect(w.d.sync(T0 + 100)).toEqual({ starts: 1, stops: 0, held: 0, failed: 0 });
    const spec = getWorkload(w.db, 'w1')?.spec;
    expect(w.sent).toEqual([
      {
        node: 'n1',
        frame: expect.objectContaining({
          body: {
            case: 'startPod',
            value: {
              podId: wirePodId('w1', 't-0'),
              epoch: 1,
              gpuGrants: [grant('n1', 0)],
              spec: expect.objectContaining({
                workload: 't',
                project: 'vision',
                command: ['python', 'train.py'],
                env: { EPOCHS: '3' },
                networkEnv: { TESSERA_POD_INDEX: '0' },
                priority: spec?.priority,
                readiness: { linePrefix: null, delayMs: 0, probe: null },
              }),
            },
          },
        }),
      },
    ]);
    expect(spec?.priority).toBe(100);
  });

  it('does not resend within resendMs, resends after it, and at once after forgetNode', () => {
    const w = oneBound();
    w.d.sync(T0);
    expect(w.d.sync(T0 + RESEND_MS - 1).starts).toBe(0);
    expect(w.d.sync(T0 + RESEND_MS).starts).toBe(1);
    expect(w.d.sync(T0 + RESEND_MS + 1).starts).toBe(0);
    w.d.forgetNode('n2');
    expect(w.d.sync(T0 + RESEND_MS + 2).starts).toBe(0);
    w.d.forgetNode('n1');
    expect(w.d.sync(T0 + RESEND_MS + 3).starts).toBe(1);
    expect(cases(w)).toEqual(['n1:startPod', 'n1:startPod', 'n1:startPod']);
  });

  it('stops sending once the pod has started', () => {
    const w = oneBound();
    w.d.sync(T0);
    const p = podOf(w.db, 'w1', 't-0');
    applyPodReport(w.db, report(p, 'running'), p, T0 + 1);
    expect(w.d.sync(T0 + RESEND_MS)).toEqual({ starts: 0, stops: 0, held: 0, failed: 0 });
  });

  it('retries on the next sync what a disconnected node could not be sent', () => {
    const w = oneBound();
    w.connected.delete('n1');
    expect(w.d.sync(T0)).toEqual({ starts: 0, stops: 0, held: 0, failed: 0 });
    w.connected.add('n1');
    expect(w.d.sync(T0 + 1).starts).toBe(1);
  });

  it('sends a Stopping pod its StopPod', () => {
    const w = oneBound();
    evictAndRebind(w);
    w.d.sync(T0 + 100);
    const stop = w.sent.find((s) => s.frame.body.case === 'stopPod');
    expect(stop?.node).toBe('n1');
    expect(stop?.frame.body.value).toMatchObject({ podId: wirePodId('w1', 't-0'), epoch: 1 });
  });

  it('holds a StartPod while a Stopping pod on its node holds one of its GPUs, and releases it after', () => {
    const w = oneBound();
    evictAndRebind(w);
    expect(w.d.sync(T0 + 100)).toEqual({ starts: 0, stops: 1, held: 1, failed: 0 });
    expect(cases(w)).toEqual(['n1:stopPod']);
    // Held, not sent: no resend clock is running for it.
    expect(w.d.sync(T0 + 101)).toEqual({ starts: 0, stops: 0, held: 1, failed: 0 });

    const p = podOf(w.db, 'w1', 't-0');
    applyPodReport(w.db, report(p, 'exited', { signal: 'SIGTERM' }), p, T0 + 200);
    expect(w.d.sync(T0 + 201)).toEqual({ starts: 1, stops: 0, held: 0, failed: 0 });
    expect(w.sent.at(-1)).toMatchObject({
      node: 'n1',
      frame: { body: { case: 'startPod', value: { podId: wirePodId('w2', 'u-0'), epoch: 1 } } },
    });
  });

  it('does not hold a StartPod for a GPU of the same uuid index on another node', () => {
    const w = oneBound();
    evictAndRebind(w);
    submitBound(w.db, 'w3', training('v', 'nlp'), [['n2', 0]], T0 + 40);
    expect(w.d.sync(T0 + 100)).toEqual({ starts: 1, stops: 1, held: 1, failed: 0 });
  });
});

/**
 * Two training workloads bound on n1, `w1` (pod big-0) before `w2` (pod small-0) in id order, with
 * w1's stored command replaced past the validator (old data, or a bug) by `command`; frames are
 * encoded as the link does.
 */
function oversizedFirst(command: string[]): Wire {
  const db = openTemp();
  smallOrg(db);
  submitBound(db, 'w1', training('big'), [['n1', 0]]);
  submitBound(db, 'w2', training('small'), [['n1', 1]]);
  const spec = getWorkload(db, 'w1')?.spec;
  db.prepare('UPDATE workloads SET spec = ? WHERE id = ?').run(JSON.stringify({ ...spec, command }), 'w1');
  return wire(db, true);
}

describe('dispatcher with a pod the wire refuses', () => {
  it('fails the pod, naming the field and limit, and still starts the pod after it in the same pass', () => {
    const w = oversizedFirst(['python', 'x'.repeat(70_000)]);
    expect(w.d.sync(T0 + 100)).toEqual({ starts: 1, stops: 0, held: 0, failed: 1 });
    expect(w.sent.map((s) => s.frame.body.value)).toEqual([
      expect.objectContaining({ podId: wirePodId('w2', 'small-0') }),
    ]);
    expect(podOf(w.db, 'w1', 'big-0').phase).toBe('Failed');
    // The workload follows its pod, and the event says why in words a user can act on.
    expect(getWorkload(w.db, 'w1')?.phase).toBe('Failed');
    const last = listEvents(w.db, { workload: 'w1' }).at(-1);
    expect(last).toMatchObject({ from: 'Initializing', to: 'Failed', reason: 'PodFailed' });
    expect(last?.message).toContain('pod big-0 cannot start');
    expect(last?.message).toContain('startPod.spec.command[1]: is 70000 characters, over the limit of 65536');
    // Nothing more goes out for it; the other pod is resent as usual.
    expect(w.d.sync(T0 + 100 + RESEND_MS)).toEqual({ starts: 1, stops: 0, held: 0, failed: 0 });
  });

  it('fails a pod whose StartPod encodes over the frame limit though each field is within its cap', () => {
    const w = oversizedFirst(['python', ...Array.from({ length: 17 }, () => 'x'.repeat(65_536))]);
    expect(w.d.sync(T0 + 100)).toMatchObject({ starts: 1, failed: 1 });
    expect(podOf(w.db, 'w1', 'big-0').phase).toBe('Failed');
    expect(listEvents(w.db, { workload: 'w1' }).at(-1)?.message).toMatch(/over the limit of 1048576/);
  });

  it('fails a pod whose StartPod cannot be built from its stored spec, and still starts the next', () => {
    const w = oversizedFirst(['python']);
    const spec = getWorkload(w.db, 'w1')?.spec;
    // A spec stored by a buggy or older writer without its command: building the StartPod throws.
    w.db
      .prepare('UPDATE workloads SET spec = ? WHERE id = ?')
      .run(JSON.stringify({ ...spec, command: null }), 'w1');
    expect(w.d.sync(T0 + 100)).toMatchObject({ starts: 1, failed: 1 });
    expect(podOf(w.db, 'w1', 'big-0').phase).toBe('Failed');
    expect(listEvents(w.db, { workload: 'w1' }).at(-1)?.message).toContain('cannot be built');
  });

  it('skips a pod it can neither send nor fail, and still starts the next', () => {
    const w = oversizedFirst(['python', 'x'.repeat(70_000)]);
    // Failing the pod must read the workload too: an unreadable one leaves the pod Bound, untouched.
    w.db.prepare('UPDATE workloads SET spec = ? WHERE id = ?').run('{"name": "big"', 'w1');
    expect(w.d.sync(T0 + 100)).toMatchObject({ starts: 1, failed: 0 });
    expect(podOf(w.db, 'w1', 'big-0').phase).toBe('Bound');
    expect(w.sent.map((s) => s.node)).toEqual(['n1']);
  });
});

describe('dispatcher onStatus', () => {
  it('confirms a Stopping pod absent from Status only once the StopPod is 2 heartbeats old', () => {
    const w = oneBound();
    evictAndRebind(w);
    const sentAt = T0 + 100;
    w.d.sync(sentAt);
    expect(w.d.onStatus('n1', status([]), sentAt + 2 * HEARTBEAT_MS - 1).changed).toBe(false);
    expect(podOf(w.db, 'w1', 't-0').phase).toBe('Stopping');
    expect(w.d.onStatus('n1', status([]), sentAt + 2 * HEARTBEAT_MS).changed).toBe(true);
    expect(podOf(w.db, 'w1', 't-0').phase).toBe('Stopped');
  });

  it('does not confirm a pod the Status still lists live', () => {
    const w = oneBound();
    evictAndRebind(w);
    w.d.sync(T0 + 100);
    const p = podOf(w.db, 'w1', 't-0');
    const r = w.d.onStatus('n1', status([report(p, 'stopping')]), T0 + 100 + 10 * HEARTBEAT_MS);
    expect(r.changed).toBe(false);
    expect(podOf(w.db, 'w1', 't-0').phase).toBe('Stopping');
  });

  it('leaves a pod the Status reports ended to its report, and one never sent a StopPod alone', () => {
    const w = oneBound();
    evictAndRebind(w);
    const p = podOf(w.db, 'w1', 't-0');
    w.connected.delete('n1');
    w.d.sync(T0 + 100);
    // Never sent (node down): absence proves nothing.
    expect(w.d.onStatus('n1', status([]), T0 + 10_000).changed).toBe(false);
    w.connected.add('n1');
    w.d.sync(T0 + 10_000);
    const ended = status([report(p, 'exited', { exitCode: 0 })]);
    expect(w.d.onStatus('n1', ended, T0 + 20_000).changed).toBe(false);
    expect(podOf(w.db, 'w1', 't-0').phase).toBe('Stopping');
  });

  it('ignores a Status from a node with nothing being stopped', () => {
    const w = oneBound();
    w.d.sync(T0);
    expect(w.d.onStatus('n1', status([]), T0 + 60_000)).toEqual({ stops: [], changed: false });
    expect(podOf(w.db, 'w1', 't-0').phase).toBe('Bound');
  });
});

describe('dispatcher onStatus with slow heartbeats', () => {
  // BUG: every resend of a StopPod restamps the time absence is counted from. With heartbeatMs >
  // resendMs / 2 (startAllocator takes heartbeatMs, resendMs stays 5000: heartbeatMs 3000 does it)
  // the StopPod is never 2 heartbeats old when a Status arrives, so a pod its agent no longer knows
  // stays Stopping for ever, holding its GPUs and any StartPod held behind them. Flip to `it` once fixed.
  it('still confirms an absent Stopping pod when heartbeatMs exceeds half of resendMs', () => {
    const db = openTemp();
    smallOrg(db);
    submitBound(db, 'w1', training('t'), [['n1', 0]]);
    const d = createDispatcher(db, () => true, { resendMs: 5000, heartbeatMs: 3000 });
    evictAndRebind({ db, d, sent: [], connected: new Set() });
    // One cycle a second (the allocator's periodic tick) and a Status every heartbeat, for a minute.
    for (let t = 0; t <= 60_000; t += 1000) {
      d.sync(T0 + 100 + t);
      if (t % 3000 === 0) d.onStatus('n1', status([]), T0 + 100 + t);
    }
    expect(podOf(db, 'w1', 't-0').phase).toBe('Stopped');
  });

  it("holds a distributed gang's StartPods until every pod is bound, then sends each its rendezvous env", () => {
    const db = openTemp();
    smallOrg(db);
    submitBound(db, 'w1', distributed('ddp', 2), [['n1', 0]]);
    const w = wire(db);
    expect(w.d.sync(T0 + 100)).toMatchObject({ starts: 0, held: 1 });
    applyPlan(db, plan({ binds: [bind('w1', 'ddp-1', 'n2', 0)] }), T0 + 200);
    expect(w.d.sync(T0 + 300)).toMatchObject({ starts: 2, held: 0 });
    const envs = w.sent.map((s) =>
      s.frame.body.case === 'startPod' ? s.frame.body.value.spec.networkEnv : {},
    );
    expect(envs).toEqual([
      expect.objectContaining({ RANK: '0', MASTER_ADDR: '10.0.0.1', MASTER_PORT: '40000', WORLD_SIZE: '2' }),
      expect.objectContaining({ RANK: '1', MASTER_ADDR: '10.0.0.1', MASTER_PORT: '40000', WORLD_SIZE: '2' }),
    ]);
    expect(envs[1]?.TESSERA_PEERS).toBe('10.0.0.1:40000,10.0.0.2:40000');
  });
});
