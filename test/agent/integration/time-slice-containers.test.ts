/**
 * Time-slicing container pods through real processes: an allocator and one sim agent started with
 * `--runtime container --time-slicing strict --slice-cycle 1s`, and two workloads in busybox
 * containers, each a shell busy loop on half of the node's one GPU. The agent pauses and resumes them
 * with the containers' cgroup freezer.
 *
 * Shares are each container's CPU time (its PID 1 is the loop, so /proc/<pid>/stat of that pid holds
 * it all) over a few seconds. Shares alone cannot tell slicing from no slicing (two free loops also
 * split 50/50), so the test also samples each container's freezer every few milliseconds: each must
 * be seen frozen about half the time, and both thawed at once only around the switches. Last, one is
 * stopped the moment the slicer freezes it: it must end before its next window, by its TERM trap, so
 * the agent thawed it to stop it; then no container of the node may be left running.
 *
 * The pods come from the allocator, not from `--pods FILE`: a pods file carries no image, so it
 * cannot start a container pod.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../../agent/api.ts';
import { readStateFile } from '../../../agent/state-file.ts';
import { ensureTestImages, podmanUnavailableReason } from '../../helpers/images.ts';
import { podman } from '../../helpers/podman.ts';
import { type Cluster, startCluster, until } from '../../integration/harness.ts';

const unavailable = podmanUnavailableReason();

/**
 * The agent's time-slicing cycle: 500 ms windows each, long enough that a stop sent as one pod is
 * frozen reaches the agent before the slicer's own thaw, even on a loaded machine.
 */
const CYCLE_MS = 1000;
/** How long the shares are measured: whole cycles, so each pod's windows add up to half whatever the phase. */
const MEASURE_MS = 5 * CYCLE_MS;
/** How often the freezers are read while measuring. */
const SAMPLE_EVERY_MS = 10;

/** A container of the node as `podman ps` lists it. */
interface Container {
  id: string;
  state: string;
  pid: number;
  podId: string;
}

/** The containers podman holds for `node` (by the agent's labels). */
function containersOf(node: string): Container[] {
  const out = execFileSync(
    'podman',
    ['ps', '-a', '--filter', `label=tessera.node=${node}`, '--format', 'json'],
    {
      encoding: 'utf8',
    },
  );
  const list = JSON.parse(out === '' ? '[]' : out) as {
    Id: string;
    State: string;
    Pid: number;
    Labels: Record<string, string> | null;
  }[];
  return list.map((c) => ({ id: c.Id, state: c.State, pid: c.Pid, podId: c.Labels?.['tessera.pod'] ?? '' }));
}

/** The `/status` of the agent over `dataDir`, from the port its state file names. */
async function agentStatus(dataDir: string): Promise<AgentStatus> {
  const state = await readStateFile(dataDir);
  if (!state.ok || state.value === null || state.value.port === null)
    throw new Error(`no agent state file in ${dataDir}`);
  const res = await fetch(`http://127.0.0.1:${state.value.port}/status`);
  if (!res.ok) throw new Error(`agent /status answered ${res.status}`);
  return (await res.json()) as AgentStatus;
}

/** utime + stime of `pid` in clock ticks (10 ms at USER_HZ 100); fields counted after `(comm)`. */
function cpuTicks(pid: number): number {
  const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

/** The cgroup v2 mount point, or null on a host with none. */
function unifiedMount(): string | null {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (post?.startsWith('cgroup2 ')) return pre?.split(' ')[4] ?? null;
  }
  return null;
}

/**
 * Reads whether the cgroup of `pid` is frozen, from whichever freezer the host has (the agent uses
 * v2's `cgroup.freeze` where the container has a v2 cgroup, else v1's `freezer.state`): the files of
 * both are found once from /proc/<pid>/cgroup, so each reading is one or two small file reads.
 */
function freezerOf(pid: number): () => boolean {
  const files: { path: string; frozen: (text: string) => boolean }[] = [];
  const unified = unifiedMount();
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (path === undefined || path === '/') continue;
    if (controllers === '' && unified !== null) {
      const events = join(unified, path, 'cgroup.events');
      if (existsSync(join(unified, path, 'cgroup.freeze')))
        files.push({ path: events, frozen: (t) => /^frozen 1$/m.test(t) });
    } else if (controllers?.split(',').includes('freezer')) {
      // FREEZING counts: the agent asked, and the kernel is stopping its tasks.
      files.push({
        path: join('/sys/fs/cgroup/freezer', path, 'freezer.state'),
        frozen: (t) => t.trim() !== 'THAWED',
      });
    }
  }
  if (files.length === 0) throw new Error(`no freezer file found for pid ${pid}`);
  return () => files.some((f) => f.frozen(readFileSync(f.path, 'utf8')));
}

describe.skipIf(unavailable !== null)(`time-slicing container pods (${unavailable ?? 'podman here'})`, () => {
  let c: Cluster | undefined;
  let node = '';
  let busybox = '';

  beforeAll(async () => {
    busybox = (await ensureTestImages()).busybox;
    // A node name of its own, so the label filter sees only this file's containers.
    node = `slice-${process.pid}`;
    c = await startCluster(
      { [node]: '1xH100-80GB' },
      {
        agentArgs: ['--runtime', 'container', '--time-slicing', 'strict', '--slice-cycle', `${CYCLE_MS}ms`],
      },
    );
  }, 120_000);

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      process.stderr.write(c?.logs() ?? '');
    });
  });

  afterAll(async () => {
    await c?.cleanup();
    // What the agent left behind (it is killed, not drained): removed, so no run accumulates them.
    // A container whose `podman stop` died with the agent can refuse for a moment: tried again.
    if (node === '') return;
    let left = containersOf(node);
    for (let attempt = 0; left.length > 0 && attempt < 5; attempt++) {
      if (attempt > 0) await sleep(500);
      const r = await podman(['rm', '-f', '-t', '0', ...left.map((x) => x.id)]);
      left = containersOf(node);
      if (left.length > 0 && attempt === 4)
        throw new Error(`containers of ${node} left after podman rm: ${r.stderr.trim()}`);
    }
  });

  it('strict 50/50 holds two busy containers on one GPU near half each, frozen in turn; a frozen one stops cleanly', async () => {
    const cluster = c!;
    const t0 = Date.now();
    const submit = (name: string) =>
      cluster.api.submit({
        name,
        project: cluster.defaultProject,
        type: 'training',
        image: busybox,
        imagePullPolicy: 'Never',
        // PID 1 of its container: it handles TERM itself, as a real entrypoint does.
        command: ['sh', '-c', 'trap "exit 0" TERM; while :; do :; done'],
        resources: { gpuFraction: 0.5 },
      });
    const ws = [await submit('slice-a'), await submit('slice-b')];
    for (const w of ws) await cluster.api.waitPhase(w.id, 'Running', 60_000);
    // Both on the node's one GPU, half each: the slicer's two tenants.
    for (const w of ws) {
      const pod = (await cluster.api.workload(w.id)).pods[0];
      expect(pod?.gpus.map((g) => g.fraction)).toEqual([0.5]);
    }
    const byWorkload = await until(
      async () => {
        const running = containersOf(node).filter((x) => x.state === 'running' && x.pid > 0);
        const mine = ws.map((w) => running.find((x) => x.podId.startsWith(`${w.id}_`)));
        return mine.every((x) => x !== undefined) ? (mine as Container[]) : null;
      },
      'both containers running',
      30_000,
    );
    const startedMs = Date.now() - t0;
    const pids = byWorkload.map((x) => x.pid);
    const frozen = pids.map(freezerOf);
    // Let the loops and the slicer settle (the slicer learns its tenants from the next sample).
    await until(async () => (frozen.some((f) => f()) ? true : null), 'a container frozen', 10_000);
    await sleep(CYCLE_MS);

    const before = pids.map(cpuTicks);
    const measureStart = Date.now();
    const seenFrozen = [0, 0];
    let bothThawed = 0;
    let samples = 0;
    while (Date.now() - measureStart < MEASURE_MS) {
      const now = frozen.map((f) => f());
      now.forEach((f, i) => {
        if (f) seenFrozen[i]! += 1;
      });
      if (!now[0] && !now[1]) bothThawed += 1;
      samples += 1;
      await sleep(SAMPLE_EVERY_MS);
    }
    const wallMs = Date.now() - measureStart;
    const used = pids.map((p, i) => cpuTicks(p) - before[i]!);
    const total = used[0]! + used[1]!;
    const shares = used.map((u) => u / total);
    const frozenShares = seenFrozen.map((n) => n / samples);
    // Printed for the record: what this run measured.
    console.log(
      `container time-slicing: shares a ${shares[0]!.toFixed(3)}, b ${shares[1]!.toFixed(3)}; ` +
        `${total * 10} ms CPU over ${wallMs} ms; frozen a ${frozenShares[0]!.toFixed(2)}, b ${frozenShares[1]!.toFixed(2)}, ` +
        `both thawed ${(bothThawed / samples).toFixed(3)} of ${samples} samples; pods running after ${startedMs} ms`,
    );

    for (const s of shares) {
      expect(s).toBeGreaterThan(0.35);
      expect(s).toBeLessThan(0.65);
    }
    // They took turns: each frozen about half the time (a free-running pair is never frozen), and
    // both thawed only in the moment between one's thaw and the other's freeze.
    for (const f of frozenShares) {
      expect(f).toBeGreaterThan(0.3);
      expect(f).toBeLessThan(0.7);
    }
    expect(bothThawed / samples).toBeLessThan(0.15);
    // Together about one core, not two (generous: ticks round, and the boundary moments count).
    expect(total * 10).toBeLessThan(wallMs * 1.3);

    // Stop A just as the slicer freezes it, so the stop reaches it frozen: the agent must thaw it to
    // deliver the TERM. Proof that it did: A is gone before its next window (half a cycle after the
    // freeze), which it could not be had it stayed frozen, and it exits 0 from its TERM trap (a
    // stop that waited out the grace period would have killed it).
    const [a, b] = ws as [(typeof ws)[number], (typeof ws)[number]];
    await until(async () => (frozen[0]!() ? null : true), 'A thawed', 5_000);
    const edgeDeadline = Date.now() + 5_000;
    while (!frozen[0]!()) {
      if (Date.now() > edgeDeadline) throw new Error('A was not frozen again within 5 s');
      await sleep(1);
    }
    const frozenAt = Date.now();
    const stop = await cluster.api.request('POST', `/workloads/${a.id}/stop`, {});
    expect(stop.status, JSON.stringify(stop.body)).toBeLessThan(300);
    while (existsSync(`/proc/${pids[0]}`)) {
      if (Date.now() - frozenAt > 15_000) throw new Error("A's process outlived its stop by 15 s");
      await sleep(2);
    }
    const goneMs = Date.now() - frozenAt;
    expect(goneMs, 'A ended before the slicer would have thawed it').toBeLessThan(CYCLE_MS / 2 - 50);
    await cluster.api.waitPhase(a.id, 'Stopped', 30_000);
    const ended = await until(
      async () => {
        const p = (await agentStatus(cluster.nodeDirs(node).data)).pods.find((x) =>
          x.podId.startsWith(`${a.id}_`),
        );
        return p?.state === 'exited' ? p : null;
      },
      "the agent to see A's end",
      15_000,
    );
    expect({ exitCode: ended.exitCode, signal: ended.signal }).toEqual({ exitCode: 0, signal: null });
    await until(
      async () =>
        containersOf(node).find((x) => x.id === byWorkload[0]!.id)?.state === 'running' ? null : true,
      "A's container no longer running",
      15_000,
    );
    // B was left alone and still runs (paused in turn: strict keeps a 0.5 tenant at half even alone).
    const bTicks = cpuTicks(pids[1]!);
    await sleep(1.2 * CYCLE_MS);
    expect(cpuTicks(pids[1]!)).toBeGreaterThan(bTicks);
    expect((await cluster.api.workload(b.id)).phase).toBe('Running');

    await cluster.api.request('POST', `/workloads/${b.id}/stop`, {});
    await cluster.api.waitPhase(b.id, 'Stopped', 30_000);
    // Settled, not only past `running`: a `podman stop` still under way when afterAll kills the agent
    // would leave its container `stopping` in podman's records.
    await until(
      async () =>
        containersOf(node).every((x) => x.state === 'exited' || x.state === 'stopped') ? true : null,
      'every container of the node exited',
      15_000,
    );
    console.log(
      `container time-slicing: frozen A gone ${goneMs} ms after its freeze; test body ${Date.now() - t0} ms`,
    );
  }, 120_000);
});
