/**
 * High availability over real processes: three `tessera allocator`s on one real PostgreSQL and two
 * sim agents given all three URLs. SIGKILL the leader while workloads are submitted and running: a
 * standby leads within 10 s, nothing stored is lost, no pod runs twice and no running pod stops.
 * SIGSTOP the next leader past its lease and wake it: another leads meanwhile, the woken one's writes
 * are fenced and it steps down to standby, and the agents end up on the new leader.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { POSTGRES_MISSING } from '../helpers/postgres.ts';
import { HaCluster } from './failover-cluster.ts';
import {
  type Api,
  alive,
  type Cluster,
  holdsFor,
  overlappingCopies,
  testWorkload,
  until,
  type WorkloadView,
} from './harness.ts';

const NODES = ['n1', 'n2'];
const ALLOCATORS = ['alloc-1', 'alloc-2', 'alloc-3'];

/** Submits `spec` until an allocator accepts it (a failover answers 502/503 meanwhile); its id. */
async function submitUntilAccepted(api: Api, spec: Record<string, unknown>): Promise<string> {
  return until(
    async () => {
      const r = await api.request('POST', '/workloads', spec).catch(() => null);
      if (r?.status === 201) return (r.body as WorkloadView).id;
      // Accepted by the old leader just before it died, its answer lost: it is there.
      if (r?.status === 409) {
        const list = (await api.expect(200, 'GET', '/workloads')) as WorkloadView[];
        return list.find((w) => w.name === spec.name)?.id ?? null;
      }
      return null;
    },
    `workload ${String(spec.name)} accepted`,
    30_000,
    200,
  );
}

/** What must survive a failover unchanged, read through the API. */
async function durableState(api: Api, ids: readonly string[]) {
  const workloads = (await api.expect(200, 'GET', '/workloads')) as WorkloadView[];
  return {
    phases: workloads.map((w) => `${w.name}:${w.phase}`).sort(),
    events: Object.fromEntries(await Promise.all(ids.map(async (id) => [id, await api.events(id)] as const))),
    project: await api.expect(200, 'GET', '/projects/ha-q'),
  };
}

/** Lines of an allocator's log that say `msg` about node `node`. */
function logSays(output: string, msg: string, node: string): boolean {
  return output.split('\n').some((l) => l.includes(`"${msg}"`) && l.includes(`"node":"${node}"`));
}

describe.skipIf(POSTGRES_MISSING !== null).sequential('failover (several allocators on PostgreSQL)', () => {
  let ha: HaCluster;
  let c: Cluster;
  // The two allocators that did not lead first.
  let standbys: string[] = [];
  // The pods that run through both failovers: their pids must never change.
  const live = new Map<string, number>();
  // Every workload submitted, for the no-pod-runs-twice check over all journals.
  const names: string[] = [];

  beforeAll(async () => {
    // Node lease 20 s: agents cut off by a failover stay well inside it. Leader lease 3 s.
    ha = await HaCluster.create({ lease: '20s', heartbeat: '500ms', leaderLease: '3s' });
    c = ha.cluster;
    try {
      // All three at once: whichever takes the lease first leads and writes the tokens to its data
      // dir; the standbys write none.
      await Promise.all(ALLOCATORS.map((n) => ha.start(n)));
      const first = ha.get(await ha.waitLeader(ALLOCATORS));
      c.adminToken = readFileSync(join(first.dir, 'admin-token'), 'utf8').trim();
      c.joinToken = readFileSync(join(first.dir, 'join-token'), 'utf8').trim();
      // Agents get every allocator; the harness's own API client talks to a standby.
      c.url = ha.urlList();
      await Promise.all(NODES.map((n) => c.startAgent(n)));
      standbys = ALLOCATORS.filter((n) => n !== first.name);
      c.url = ha.get(standbys[0] ?? '').url;
      const projects = (await c.api.expect(200, 'GET', '/projects')) as {
        name: string;
        department: string;
      }[];
      c.defaultProject = projects.find((p) => p.department === 'default')?.name ?? 'default';
      await c.waitNodes(NODES, 20_000);
    } catch (e) {
      process.stderr.write(c.logs());
      throw e;
    }
  }, 60_000);
  afterAll(async () => {
    await ha?.cleanup();
  });
  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      process.stderr.write(c.logs());
    });
  });

  it('SIGKILL of the leader while work is submitted and running: a standby leads within 10 s, nothing lost, no pod stops or runs twice', async () => {
    const [s1 = '', s2 = ''] = standbys;
    const leader = ALLOCATORS.find((n) => !standbys.includes(n)) ?? '';
    expect((await ha.role(s1))?.role).toBe('standby');
    expect((await ha.role(s1))?.leaderUrl).toBe(ha.get(leader).url);
    // Every write below goes through a standby, which forwards it to the leader.
    const api = c.api;
    await api.createProject('ha-q', 2);
    const done = await api.submit(testWorkload(c, 'pre-done', { project: 'ha-q', run: { ms: 1000 } }));
    names.push('pre-done');
    await api.waitPhase(done.id, 'Completed');
    const liveIds: string[] = [];
    for (const name of ['live-1', 'live-2']) {
      liveIds.push((await api.submit(testWorkload(c, name, { project: 'ha-q' }))).id);
      names.push(name);
    }
    for (const id of liveIds) await api.waitPhase(id, 'Running');
    for (const name of ['live-1', 'live-2'])
      live.set(name, (await until(() => c.readJournal(name)[0], `${name} journaling`, 10_000)).pid);
    const before = await durableState(api, [done.id, ...liveIds]);

    // Submissions across the kill, through the other standby; retried until some leader takes each.
    const api3 = ha.api(s2);
    const accepted: string[] = [];
    const submitting = (async () => {
      for (let i = 0; i < 4; i++) {
        const name = `during-${i}`;
        names.push(name);
        accepted.push(await submitUntilAccepted(api3, testWorkload(c, name, { run: { ms: 1500 } })));
      }
    })();
    await until(() => accepted.length >= 1, 'the first submission accepted', 10_000);
    await ha.get(leader).proc.kill();
    const killedAt = Date.now();
    const next = await ha.waitLeader(standbys, 12_000);
    const takeoverMs = Date.now() - killedAt;
    process.stderr.write(`failover: ${next} leads ${takeoverMs} ms after the leader's SIGKILL\n`);
    expect(takeoverMs).toBeLessThan(10_000);
    await submitting;

    // Every submission accepted, before or after the kill, runs to completion under the new leader.
    for (const id of accepted) await api3.waitPhase(id, 'Completed', 30_000);
    const newApi = ha.api(next);
    const after = await durableState(newApi, [done.id, ...liveIds]);
    expect(after.project).toEqual(before.project);
    expect(after.events[done.id]).toEqual(before.events[done.id]);
    for (const id of liveIds) expect(after.events[id]).toEqual(before.events[id]);
    expect(after.phases).toEqual(
      [...before.phases, ...[0, 1, 2, 3].map((i) => `during-${i}:Completed`)].sort(),
    );
    // The agents moved to the new leader, and no node was lost for the outage.
    await until(
      () => NODES.every((n) => logSays(ha.get(next).proc.output(), 'agent connected', n)),
      `both agents connected to ${next}`,
      15_000,
    );
    const nodes = (await newApi.expect(200, 'GET', '/nodes')) as { name: string; lost: boolean }[];
    expect(nodes.filter((n) => n.lost)).toEqual([]);
    // The running pods never stopped: same processes, one run each.
    await holdsFor(async () => {
      for (const [name, pid] of live) if (!alive(pid)) return `${name}'s pod ${pid} died`;
      return null;
    }, 1500);
    for (const name of live.keys()) {
      const lines = c.readJournal(name);
      expect(new Set(lines.map((l) => l.pid))).toEqual(new Set([live.get(name)]));
      expect(lines.some((l) => l.event === 'end')).toBe(false);
    }
    for (const name of names) expect(overlappingCopies(c.readJournal(name)), name).toEqual([]);
  }, 90_000);

  it('SIGSTOP of the leader past its lease: another leads; woken, its writes are fenced and it steps down; agents follow', async () => {
    // The killed allocator comes back as a standby.
    const killed = ALLOCATORS.find((n) => !standbys.includes(n)) ?? '';
    await ha.start(killed);
    const leader = await ha.waitLeader(standbys);
    expect((await ha.role(killed))?.role).toBe('standby');
    const others = ALLOCATORS.filter((n) => n !== leader);
    const frozen = ha.get(leader).proc;
    frozen.signal('SIGSTOP');
    let thawed = false;
    try {
      const stoppedAt = Date.now();
      const next = await ha.waitLeader(others, 12_000);
      process.stderr.write(
        `failover: ${next} leads ${Date.now() - stoppedAt} ms after the leader's SIGSTOP\n`,
      );
      // It schedules while the old leader is frozen: the agents found it.
      const api = ha.api(next);
      const w = await api.submit(testWorkload(c, 'while-frozen'));
      names.push('while-frozen');
      await api.waitPhase(w.id, 'Running', 30_000);
      frozen.signal('SIGCONT');
      thawed = true;
      await until(
        async () => (await ha.role(leader))?.role === 'standby',
        `${leader} back as a standby`,
        10_000,
      );
      // Woken, it tried to renew at its old epoch: the database refused it.
      expect(frozen.output()).toMatch(/write fenced: another allocator took the lease/);
      expect((await ha.role(leader))?.leaderUrl).toBe(ha.get(next).url);
      expect((await ha.role(next))?.role).toBe('leader');
      const nodes = (await api.expect(200, 'GET', '/nodes')) as { name: string; lost: boolean }[];
      expect(nodes.filter((n) => n.lost)).toEqual([]);
      expect((await api.workload(w.id)).phase).toBe('Running');
    } finally {
      if (!thawed) frozen.signal('SIGCONT');
    }
    for (const [name, pid] of live) expect(alive(pid), `${name}'s pod ${pid}`).toBe(true);
    for (const name of names) expect(overlappingCopies(c.readJournal(name)), name).toEqual([]);
  }, 90_000);
});
