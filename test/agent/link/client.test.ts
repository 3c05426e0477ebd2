import { afterEach, describe, expect, it } from 'vitest';
import { createLink, type Link, type LinkOptions } from '../../../agent/link/client.ts';
import { err, ok, tesseraError } from '../../../common/errors.ts';
import type { StartPod } from '../../../common/wire.ts';
import { until } from '../../helpers/wait.ts';
import { noContainer } from '../../wire-pod-spec.ts';
import {
  events,
  type FakeAgent,
  fakeAgent,
  fakeAllocator,
  hellos,
  podStatus,
  quietLog,
  sleep,
  statuses,
} from './fixtures.ts';

type Allocator = Awaited<ReturnType<typeof fakeAllocator>>;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(
  agent: FakeAgent,
  extra: Partial<LinkOptions> = {},
): Promise<{ alloc: Allocator; link: Link }> {
  const alloc = await fakeAllocator();
  const link = createLink({
    url: alloc.url,
    token: 'join-secret',
    nodeName: 'node-a',
    agent,
    heartbeatMs: 50,
    leaseMs: 5000,
    marginMs: 1000,
    backoff: { initialMs: 40, maxMs: 200 },
    random: () => 0.5,
    log: quietLog,
    ...extra,
  });
  cleanups.push(() => alloc.close());
  cleanups.push(() => link.stop());
  link.start();
  await until(() => alloc.conns[0] !== undefined && hellos(alloc.conns[0]).length === 1, 'a Hello', 2000);
  return { alloc, link };
}

function startPod(podId: string, epoch: number): StartPod {
  return {
    podId,
    epoch,
    spec: {
      workload: 'train',
      project: 'vision',
      command: ['python', 'train.py'],
      env: { A: '1' },
      networkEnv: {},
      workingDir: null,
      priority: 50,
      graceSeconds: 7,
      readiness: { linePrefix: null, delayMs: 100, probe: null },
      rescheduleAfterMs: null,
      ...noContainer(),
    },
    gpuGrants: [{ uuid: 'GPU-0', gpuMilli: 500, memoryMiB: 4096, memoryLimitMiB: 8192 }],
  };
}

const welcome = (desiredPods: { podId: string; epoch: number }[]) => ({
  case: 'welcome' as const,
  value: { nodeId: 'n-1', heartbeatMs: 50, leaseMs: 5000, desiredPods, nodeCredential: 'node-cred' },
});

describe('agent link', () => {
  it('authenticates in the upgrade and says Hello with inventory and running pods', async () => {
    const agent = fakeAgent([podStatus('p1', 3), podStatus('old', 1, 'exited')]);
    const { alloc } = await setup(agent);
    const c = alloc.conns[0];
    if (c === undefined) throw new Error('no connection');
    expect(c.req.headers.authorization).toBe('Bearer join-secret');
    expect(c.req.url).toBe('/api/v1/agents/connect');
    const hello = hellos(c)[0];
    expect(c.frames[0]?.body.case).toBe('hello');
    expect(hello).toMatchObject({ node: 'node-a', agentVersion: '9.9.9', token: 'join-secret' });
    expect(hello?.inventory).toEqual({
      gpus: [
        { uuid: 'GPU-0', index: 0, model: 'H100', memoryMiB: 81920, migMode: 'disabled', healthy: true },
      ],
      cpuMillis: 8000,
      memoryMiB: 65536,
      labels: {},
      driverVersion: '550.1',
      cudaVersion: '12.4',
      network: null,
    });
    expect(hello?.runningPods).toEqual([{ podId: 'p1', epoch: 3, state: 'running', pid: 4242 }]);
  });

  it('sends a Status every heartbeat with GPU samples and pod states', async () => {
    const { alloc } = await setup(fakeAgent([podStatus('p1', 3)]));
    const c = alloc.conns[0];
    if (c === undefined) throw new Error('no connection');
    await until(() => statuses(c).length >= 3, 'three Status frames', 1000);
    const seen = statuses(c);
    expect(seen.map((s) => s.seq)).toEqual([...seen.keys()].map((i) => (seen[0]?.seq ?? 0) + i));
    expect(seen[0]?.gpuSamples[0]).toMatchObject({
      uuid: 'GPU-0',
      utilizationPct: 37,
      memoryUsedMiB: 1024,
    });
    expect(seen[0]?.podStates[0]).toMatchObject({ podId: 'p1', epoch: 3, state: 'running' });
  });

  it('forwards agent events as Event frames', async () => {
    const agent = fakeAgent();
    const { alloc } = await setup(agent);
    const c = alloc.conns[0];
    if (c === undefined) throw new Error('no connection');
    agent.emit({
      atMs: 9,
      kind: 'gpu-oom-kill',
      podId: 'p1',
      reason: 'over',
      gpuUuid: 'GPU-0',
      usedMiB: 5,
      limitMiB: 4,
    });
    await until(() => events(c).length === 1, 'an Event', 2000);
    expect(events(c)[0]).toMatchObject({
      kind: 'gpu-oom-kill',
      podId: 'p1',
      gpuUuid: 'GPU-0',
      numbers: { usedMiB: 5, limitMiB: 4 },
    });
  });

  it('StartPod starts the pod with the mapped spec', async () => {
    const agent = fakeAgent();
    const { alloc } = await setup(agent);
    const c = alloc.conns[0];
    if (c === undefined) throw new Error('no connection');
    alloc.send(c, { case: 'startPod', value: startPod('p9', 4) });
    await until(() => agent.started.length === 1, 'startPod', 2000);
    expect(agent.started[0]).toEqual({
      podId: 'p9',
      workload: 'train',
      project: 'vision',
      epoch: 4,
      command: ['python', 'train.py'],
      env: { A: '1' },
      grants: [{ uuid: 'GPU-0', gpuMilli: 500, memoryMiB: 4096, memoryLimitMiB: 8192 }],
      priority: 50,
      graceSeconds: 7,
      readiness: { linePrefix: null, delayMs: 100 },
    });
  });

  it('ignores StartPod and StopPod older than the epoch it runs (fencing)', async () => {
    const agent = fakeAgent([podStatus('p1', 3)]);
    const { alloc } = await setup(agent);
    const c = alloc.conns[0];
    if (c === undefined) throw new Error('no connection');
    alloc.send(c, { case: 'startPod', value: startPod('p1', 2) });
    alloc.send(c, { case: 'startPod', value: startPod('p1', 3) });
    alloc.send(c, { case: 'stopPod', value: { podId: 'p1', epoch: 2, reason: 'stale', graceSeconds: 1 } });
    alloc.send(c, { case: 'swap', value: { podId: 'p1', epoch: 1, direction: 'out' } });
    // An Ack after them: once it is counted, the frames before it were handled.
    alloc.send(c, { case: 'ack', value: { seq: 1 } });
    await sleep(100);
    expect(agent.started).toEqual([]);
    expect(agent.stopped).toEqual([]);
    expect(agent.swaps).toEqual([]);
    alloc.send(c, { case: 'stopPod', value: { podId: 'p1', epoch: 3, reason: 'done', graceSeconds: 2 } });
    await until(() => agent.stopped.length === 1, 'the current-epoch stop', 2000);
    expect(agent.stopped[0]).toEqual({ podId: 'p1', reason: 'done', graceSeconds: 2 });
  });

  it('a newer epoch replaces the running one: stop first, then start', async () => {
    const agent = fakeAgent([podStatus('p1', 3)]);
    const { alloc } = await setup(agent);
    const c = alloc.conns[0];
    if (c === undefined) throw new Error('no connection');
    alloc.send(c, { case: 'startPod', value: startPod('p1', 5) });
    await until(() => agent.started.length === 1, 'the new epoch started', 2000);
    expect(agent.stopped.map((s) => s.podId)).toEqual(['p1']);
    expect(agent.started[0]?.epoch).toBe(5);
  });

  it('Welcome stops pods not desired or desired at a newer epoch, keeps the rest', async () => {
    const agent = fakeAgent([podStatus('keep', 2), podStatus('extra', 1), podStatus('stale', 1)]);
    const { alloc, link } = await setup(agent);
    const c = alloc.conns[0];
    if (c === undefined) throw new Error('no connection');
    alloc.send(
      c,
      welcome([
        { podId: 'keep', epoch: 2 },
        { podId: 'stale', epoch: 4 },
      ]),
    );
    await until(() => agent.stopped.length === 2, 'two fenced stops', 2000);
    expect(agent.stopped.map((s) => s.podId).sort()).toEqual(['extra', 'stale']);
    expect(agent.stopped.find((s) => s.podId === 'extra')?.reason).toMatch(
      /not in the allocator's desired set/,
    );
    expect(link.nodeId).toBe('n-1');
    expect(link.state).toBe('welcomed');
  });

  it('reconnects with jittered backoff after the allocator closes, re-sending its full state', async () => {
    const agent = fakeAgent([podStatus('p1', 3)]);
    const draws: number[] = [];
    const { alloc, link } = await setup(agent, {
      random: () => {
        draws.push(0.5);
        return 0.5;
      },
    });
    const c = alloc.conns[0];
    if (c === undefined) throw new Error('no connection');
    alloc.send(c, welcome([{ podId: 'p1', epoch: 3 }]));
    await until(() => link.state === 'welcomed', 'the Welcome', 2000);
    agent.startPod({
      podId: 'p2',
      workload: 'w',
      project: 'p',
      epoch: 1,
      command: ['x'],
      env: {},
      grants: [],
      priority: 0,
      graceSeconds: 1,
    });
    const closedAt = Date.now();
    c.ws.close(1001, 'allocator restarting');
    await until(
      () => alloc.conns[1] !== undefined && hellos(alloc.conns[1]).length === 1,
      'a second Hello',
      2000,
    );
    // First attempt: random 0.5 of initialMs 40 = 20 ms.
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(15);
    expect(draws.length).toBe(1);
    const c2 = alloc.conns[1];
    if (c2 === undefined) throw new Error('no connection');
    // The credential from the Welcome replaces the join token on reconnect.
    expect(c2.req.headers.authorization).toBe('Bearer node-cred');
    expect(hellos(c2)[0]?.runningPods.map((p) => p.podId)).toEqual(['p1', 'p2']);
    expect(link.connects).toBe(2);
  });

  it('backs off exponentially up to the cap while the allocator refuses', async () => {
    const delays: number[] = [];
    const agent = fakeAgent();
    const alloc = await fakeAllocator();
    await alloc.close();
    const link = createLink({
      url: alloc.url,
      token: 't',
      nodeName: 'node-a',
      agent,
      backoff: { initialMs: 10, maxMs: 40 },
      random: () => 0.999,
      setTimer: (fn, ms) => {
        if (ms < 1000) delays.push(ms);
        const t = setTimeout(fn, ms);
        return () => clearTimeout(t);
      },
      log: quietLog,
    });
    cleanups.push(() => link.stop());
    link.start();
    await until(() => delays.length >= 5, 'five reconnect delays', 2000);
    expect(delays.slice(0, 5)).toEqual([9, 19, 39, 39, 39]);
  });

  it('cut off, stops each reschedule pod after its own time and keeps every keep pod running', async () => {
    const agent = fakeAgent([
      podStatus('soon', 3, 'ready', 200),
      podStatus('kept', 1),
      podStatus('late', 2, 'ready', 400),
    ]);
    const startedAt = Date.now();
    await setup(agent, { leaseMs: 300 });
    await sleep(120);
    expect(agent.stopped).toEqual([]);
    await until(() => agent.stopped.length === 1, 'the first fencing stop', 1000);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(190);
    expect(agent.stopped[0]?.podId).toBe('soon');
    expect(agent.stopped[0]?.reason).toMatch(
      /^lease lost: cut off from the allocator for \d+ ms \(disconnect policy: reschedule\)$/,
    );
    await until(() => agent.stopped.length === 2, 'the second fencing stop', 1000);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(390);
    expect(agent.stopped[1]?.podId).toBe('late');
    // Three leases later the keep pod still runs: an allocator outage does not stop it.
    await sleep(900);
    expect(agent.stopped.map((s) => s.podId)).toEqual(['soon', 'late']);
  });

  it('fences a pod started by StartPod after the reschedule time its spec carries', async () => {
    const agent = fakeAgent();
    const { alloc } = await setup(agent, { leaseMs: 5000 });
    const c = alloc.conns[0];
    if (c === undefined) throw new Error('no connection');
    const start = startPod('p9', 1);
    alloc.send(c, { case: 'startPod', value: { ...start, spec: { ...start.spec, rescheduleAfterMs: 250 } } });
    await until(() => agent.started.length === 1, 'the start', 2000);
    expect(agent.started[0]?.rescheduleAfterMs).toBe(250);
    const heardAt = Date.now();
    await until(() => agent.stopped.length === 1, 'the fencing stop', 1500);
    expect(Date.now() - heardAt).toBeGreaterThanOrEqual(200);
    expect(agent.stopped[0]?.podId).toBe('p9');
  });

  it('does not fence while the allocator keeps answering', async () => {
    // A reschedule time (the pod's own fencing clock) and a lease long enough that a loaded CI
    // machine's event-loop stalls between two answers do not reach them, and a wait past both, so
    // only the answers keep the agent from fencing.
    const agent = fakeAgent([podStatus('p1', 3, 'ready', 600)]);
    const { alloc } = await setup(agent, { leaseMs: 1000 });
    const c = alloc.conns[0];
    if (c === undefined) throw new Error('no connection');
    const ack = setInterval(() => alloc.send(c, { case: 'ack', value: { seq: 1 } }), 40);
    await sleep(1400);
    clearInterval(ack);
    expect(agent.stopped).toEqual([]);
  });

  it('asks for an Ack only once the allocator has been quiet for half its silent limit', async () => {
    const { alloc } = await setup(fakeAgent([podStatus('p1', 3)]));
    const c = alloc.conns[0];
    if (c === undefined) throw new Error('no connection');
    // heartbeat 50 ms, lease 5 s: an allocator silent 1.25 s is given up on, so Acks are wanted after 625 ms.
    alloc.send(c, welcome([{ podId: 'p1', epoch: 3 }]));
    await until(() => statuses(c).length >= 1, 'the Status after the Welcome', 2000);
    expect(statuses(c)[0]?.wantAck).toBe(false);
    await until(() => statuses(c).some((s) => s.wantAck === true), 'a Status asking for an Ack', 3000);
    const asked = statuses(c).length;
    alloc.send(c, { case: 'ack', value: { seq: statuses(c).at(-1)?.seq ?? 0 } });
    await until(
      () =>
        statuses(c)
          .slice(asked)
          .some((s) => s.wantAck === false),
      'a quiet Status again',
      3000,
    );
  });

  it('Swap at the current epoch reaches the agent', async () => {
    const agent = fakeAgent([podStatus('p1', 3)]);
    const { alloc } = await setup(agent);
    const c = alloc.conns[0];
    if (c === undefined) throw new Error('no connection');
    alloc.send(c, { case: 'swap', value: { podId: 'p1', epoch: 3, direction: 'out' } });
    await until(() => agent.swaps.length === 1, 'the swap', 2000);
    expect(agent.swaps[0]).toEqual({ podId: 'p1', direction: 'out' });
  });

  it('closes with 4403 when the allocator sends a body only agents send', async () => {
    const { alloc } = await setup(fakeAgent());
    const c = alloc.conns[0];
    if (c === undefined) throw new Error('no connection');
    alloc.send(c, { case: 'status', value: { seq: 1, atMs: 1, gpuSamples: [], podStates: [] } });
    await until(() => c.closed !== null, 'the close', 2000);
    expect(c.closed?.code).toBe(4403);
  });

  it('closes with 4400 on a garbage frame and reconnects', async () => {
    const { alloc } = await setup(fakeAgent());
    const c = alloc.conns[0];
    if (c === undefined) throw new Error('no connection');
    c.ws.send(Buffer.from([0xff, 0xff, 0xff, 0x01, 0x02]));
    await until(() => c.closed !== null, 'the close', 2000);
    expect(c.closed?.code).toBe(4400);
    await until(
      () => alloc.conns[1] !== undefined && hellos(alloc.conns[1]).length === 1,
      'a new Hello',
      2000,
    );
  });
});

/** A credential keeper in memory: what was saved, and whether saving fails. */
function memoryKeeper(saved: string | null, failing = false) {
  const k = {
    saved,
    load: () => ok(k.saved),
    save: (credential: string) => {
      if (failing) return err(tesseraError('TESSERA_E_INVALID_CONFIG', 'disk full'));
      k.saved = credential;
      return ok(undefined);
    },
  };
  return k;
}

describe('agent link credentials', () => {
  async function linked(
    keeper: ReturnType<typeof memoryKeeper>,
    refuse: (auth: string | undefined) => boolean = () => false,
  ): Promise<{ alloc: Allocator; link: Link }> {
    const alloc = await fakeAllocator(refuse);
    const link = createLink({
      url: alloc.url,
      token: 'join-secret',
      nodeName: 'node-a',
      agent: fakeAgent(),
      heartbeatMs: 50,
      leaseMs: 5000,
      marginMs: 1000,
      backoff: { initialMs: 20, maxMs: 50 },
      random: () => 0.5,
      log: quietLog,
      credentials: keeper,
    });
    cleanups.push(() => alloc.close());
    cleanups.push(() => link.stop());
    link.start();
    return { alloc, link };
  }

  it('presents its saved credential, not the join token, and saves the one each Welcome brings', async () => {
    const keeper = memoryKeeper('tn.saved.secret');
    const { alloc } = await linked(keeper);
    await until(() => alloc.conns[0] !== undefined && hellos(alloc.conns[0]).length === 1, 'a Hello', 2000);
    const c = alloc.conns[0];
    if (c === undefined) throw new Error('no connection');
    expect(c.req.headers.authorization).toBe('Bearer tn.saved.secret');
    expect(hellos(c)[0]?.token).toBe('tn.saved.secret');
    alloc.send(c, welcome([]));
    await until(() => keeper.saved === 'node-cred', 'the new credential saved', 2000);
    c.ws.close(1001, 'allocator restarting');
    await until(() => alloc.conns[1] !== undefined, 'a reconnect', 2000);
    expect(alloc.conns[1]?.req.headers.authorization).toBe('Bearer node-cred');
  });

  it('falls back to the join token when the allocator refuses the saved credential (401)', async () => {
    const keeper = memoryKeeper('tn.revoked.secret');
    const { alloc } = await linked(keeper, (auth) => auth === 'Bearer tn.revoked.secret');
    await until(() => alloc.conns[0] !== undefined, 'a connection with the join token', 2000);
    expect(alloc.refusedAuth).toEqual(['Bearer tn.revoked.secret']);
    expect(alloc.conns[0]?.req.headers.authorization).toBe('Bearer join-secret');
  });

  it('keeps presenting its current credential when a new one cannot be saved', async () => {
    const keeper = memoryKeeper('tn.saved.secret', true);
    const { alloc } = await linked(keeper);
    await until(() => alloc.conns[0] !== undefined && hellos(alloc.conns[0]).length === 1, 'a Hello', 2000);
    const c = alloc.conns[0];
    if (c === undefined) throw new Error('no connection');
    alloc.send(c, welcome([]));
    await sleep(50);
    c.ws.close(1001, 'allocator restarting');
    await until(() => alloc.conns[1] !== undefined, 'a reconnect', 2000);
    // A restart would read the old one from disk, so the allocator must keep hearing it.
    expect(alloc.conns[1]?.req.headers.authorization).toBe('Bearer tn.saved.secret');
  });
});
