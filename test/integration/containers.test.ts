/**
 * Workloads in containers through real processes: an allocator, one sim agent with `--runtime
 * container` (Podman with runc), and Debian's docker-registry with htpasswd auth on loopback.
 * Pulls with a project's registry secret (and the events that show them), the registry's own
 * words for a wrong password and a missing image, isolation between pods and from the node, a
 * memory limit ending OOMKilled, the GPU-memory limit kill on a containerised sim workload, an
 * agent restart adopting its containers, and stop / run / delete removing them.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runTessera } from '../cli-run.ts';
import { ensureTestImages, podmanUnavailableReason } from '../helpers/images.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { type Cluster, startCluster, until } from './harness.ts';

const unavailable = podmanUnavailableReason();
const SIM_DIR = resolve(import.meta.dirname, '../../agent/gpu/sim');

/** The containers podman holds for `node` (by the agent's labels), with podman's state of each. */
function containersOf(node: string): { id: string; state: string }[] {
  const out = execFileSync(
    'podman',
    ['ps', '-a', '--filter', `label=tessera.node=${node}`, '--format', 'json'],
    {
      encoding: 'utf8',
    },
  );
  const list = JSON.parse(out === '' ? '[]' : out) as { Id: string; State: string }[];
  return list.map((c) => ({ id: c.Id, state: c.State }));
}

/** The ids of `node`'s running containers. */
const runningOf = (node: string): string[] =>
  containersOf(node)
    .filter((c) => c.state === 'running')
    .map((c) => c.id);

describe.skipIf(unavailable !== null)(`workloads in containers (${unavailable ?? 'podman here'})`, () => {
  let c: Cluster;
  let reg: TestRegistry;
  let image = '';
  let nodeImage = '';
  let node = '';
  const tessera = (...args: string[]) => runTessera(args, ['--url', c.url, '--token', c.adminToken]);

  beforeAll(async () => {
    const images = await ensureTestImages();
    nodeImage = images.node;
    reg = await startRegistry();
    image = await reg.push(images.busybox, 'tessera/busybox:1');
    // A node name of its own, so the label filter sees only this file's containers.
    node = `ctr-${process.pid}`;
    c = await startCluster(
      { [node]: '4xH100-80GB' },
      {
        agentArgs: [
          '--runtime',
          'container',
          '--insecure-registry',
          reg.address,
          '--pull-retries',
          '1',
          '--pull-backoff',
          '100ms',
        ],
      },
    );
    const secret = await c.api.request('POST', `/projects/${c.defaultProject}/secrets/registry`, {
      name: 'local',
      server: reg.address,
      username: reg.username,
      password: reg.password,
    });
    expect(secret.status, JSON.stringify(secret.body)).toBe(201);
  }, 180_000);

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      process.stderr.write(c?.logs() ?? '');
      process.stderr.write(reg?.logs() ?? '');
    });
  });

  afterAll(async () => {
    await c?.cleanup();
    await reg?.stop();
    // What the agent left behind (it is killed, not drained): removed so no run accumulates them.
    for (const { id } of node === '' ? [] : containersOf(node)) {
      try {
        execFileSync('podman', ['rm', '-f', '-t', '0', id], { stdio: 'ignore' });
      } catch {
        // Being removed by podman itself meanwhile.
      }
    }
  });

  const submit = (name: string, spec: Record<string, unknown>) =>
    c.api.submit({
      name,
      project: c.defaultProject,
      type: 'training',
      resources: { gpuDevices: 1 },
      ...spec,
    });

  /** The workload's reason and the message of its last event (the pod's own words). */
  const failure = async (id: string): Promise<{ reason: string | null; message: string }> => {
    const w = await c.api.workload(id);
    return { reason: w.phaseReason, message: (await c.api.events(id)).at(-1)?.message ?? '' };
  };

  const logsOf = async (id: string): Promise<string> => {
    const r = await fetch(`${c.url}/api/v1/workloads/${id}/logs`, {
      headers: { authorization: `Bearer ${c.adminToken}` },
    });
    return r.text();
  };

  // Every step waits on podman, whose commands other suites' podman calls queue behind one lock.
  describe.sequential('one node, one registry', { timeout: 120_000 }, () => {
    let holderId = '';

    it('pulls with the project secret, shows Pulling / Pulled / Created, runs in a container, logs through the API', async () => {
      const w = await submit('holder', {
        image,
        imagePullSecret: 'local',
        env: { TOP_SECRET: 'holder-s3cret' },
        resources: { gpuDevices: 1 },
        // PID 1 of its container: it must handle TERM itself, as a real entrypoint does.
        command: [
          'sh',
          '-c',
          'trap "exit 0" TERM; echo "READY in $(cat /proc/1/comm)"; echo uid=$(id -u); sleep 600 & wait',
        ],
      });
      holderId = w.id;
      await c.api.waitPhase(w.id, 'Running', 60_000);
      const reasons = (await c.api.events(w.id)).map((e) => e.reason);
      expect(reasons).toEqual(expect.arrayContaining(['Pulling', 'Pulled', 'Created']));
      const pulled = (await c.api.events(w.id)).find((e) => e.reason === 'Pulled');
      expect(pulled?.message).toMatch(/Pulled .* in \d+(\.\d+)? s/);
      const text = await until(
        async () => ((await logsOf(w.id)).includes('uid=') ? logsOf(w.id) : null),
        'the holder to print its uid',
        15_000,
      );
      expect(text).toContain('READY in');
      expect(containersOf(node)).toHaveLength(1);
    });

    it('a wrong password fails the workload with ImagePullFailed and the registry words', async () => {
      const bad = await c.api.request('POST', `/projects/${c.defaultProject}/secrets/registry`, {
        name: 'wrong',
        server: reg.address,
        username: reg.username,
        password: 'not-the-password',
      });
      expect(bad.status).toBe(201);
      const w = await submit('denied', {
        image,
        imagePullSecret: 'wrong',
        imagePullPolicy: 'Always',
        command: ['true'],
      });
      await c.api.waitPhase(w.id, 'Failed', 60_000);
      const f = await failure(w.id);
      expect(f.reason).toBe('ImagePullFailed');
      expect(f.message).toMatch(/ImagePullFailed: .*unauthorized: authentication required/);
    });

    it('a missing image fails with ImagePullFailed: manifest unknown', async () => {
      const w = await submit('missing', {
        image: `${reg.address}/tessera/busybox:nope`,
        imagePullSecret: 'local',
        command: ['true'],
      });
      await c.api.waitPhase(w.id, 'Failed', 60_000);
      const f = await failure(w.id);
      expect(f.reason).toBe('ImagePullFailed');
      expect(f.message).toMatch(/ImagePullFailed: .*manifest unknown/);
    });

    it("a pod cannot read another pod's environment or output, the agent's token or data dir", async () => {
      const data = c.nodeDirs(node).data;
      const probe = [
        'for p in /proc/[0-9]*; do tr "\\0" "\\n" < $p/environ 2>/dev/null | grep -q holder-s3cret && echo "READ env $p"; done',
        `for f in ${data} ${data}/pods ${data}/credentials.json; do test -e $f && echo "READ $f" || echo "DENIED $f"; done`,
        'env | grep -q TESSERA_TOKEN && echo "READ token env" || echo "DENIED token env"',
        'ls /proc | grep -c "^[0-9]" | sed "s/^/PROCS /"',
        'echo PROBE-DONE',
      ].join('; ');
      const w = await submit('probe', {
        image,
        imagePullSecret: 'local',
        command: ['sh', '-c', probe],
      });
      await c.api.waitPhase(w.id, 'Completed', 60_000);
      const out = await logsOf(w.id);
      expect(out).toContain('PROBE-DONE');
      expect(out).not.toMatch(/^READ /m);
      expect(out).toContain(`DENIED ${data}`);
      expect(out).toContain('DENIED token env');
      // Its own pid namespace: it sees itself, not the node's processes.
      const procs = Number(/PROCS (\d+)/.exec(out)?.[1]);
      expect(procs).toBeGreaterThan(0);
      expect(procs).toBeLessThan(10);
    });

    it('a container over its memory limit ends OOMKilled', async () => {
      const w = await submit('oom', {
        image,
        imagePullSecret: 'local',
        // busybox tail keeps the last line whole; /dev/zero has no newline, so it only grows.
        command: ['sh', '-c', 'head -c 400000000 /dev/zero | tail'],
        resources: { memory: '32Mi' },
      });
      await c.api.waitPhase(w.id, 'Failed', 60_000);
      expect(await failure(w.id)).toMatchObject({
        reason: 'OOMKilled',
        message: expect.stringContaining('OOMKilled'),
      });
    });

    it('the GPU-memory limit still kills a containerised GPU workload that grows past it', async () => {
      const file = join(c.root, 'mounts-policy.yaml');
      writeFileSync(file, `container:\n  allowedHostPaths: [${SIM_DIR}]\n`);
      const set = await tessera('policy', 'set', 'cluster', 'training', '-f', file);
      expect(set.code, set.stderr).toBe(0);
      const w = await submit('gpu-hog', {
        image: nodeImage,
        imagePullPolicy: 'Never',
        mounts: [{ hostPath: SIM_DIR, containerPath: '/sim', readOnly: true }],
        command: [
          'node',
          '/sim/workload.mjs',
          '--mib',
          '1000',
          '--grow-mib-per-s',
          '20000',
          '--max-mib',
          '30000',
        ],
        resources: { gpuMemory: '4GiB' },
      });
      await c.api.waitPhase(w.id, 'Failed', 90_000);
      expect((await failure(w.id)).message).toMatch(
        /GPU OOM: pod .* used \d+ MiB on .*, over its limit of 4096 MiB$/,
      );
      expect((await c.api.workload(holderId)).phase).toBe('Running');
    });

    it('an agent restart adopts the running container: same id, none duplicated', async () => {
      const before = runningOf(node);
      expect(before).toHaveLength(1);
      await c.agent(node).kill();
      const restarted = await c.startAgent(node, '4xH100-80GB', {
        args: ['--runtime', 'container', '--insecure-registry', reg.address],
      });
      await c.waitNodes([node]);
      // The pod never left Running, and the same container still runs.
      await new Promise((r) => setTimeout(r, 1500));
      expect((await c.api.workload(holderId)).phase).toBe('Running');
      expect(runningOf(node)).toEqual(before);
      // The new agent adopted it from its checkpoint (not merely left it running unwatched).
      await until(
        async () => (/"msg":"agent running"/.test(restarted.output()) ? true : null),
        'the restarted agent to run',
        30_000,
      );
      const running = /\{[^\n]*"msg":"agent running"[^\n]*\}/.exec(restarted.output())?.[0] ?? '{}';
      expect((JSON.parse(running) as { adopted?: string[] }).adopted).toContain(`${holderId}_holder-0`);
      expect(restarted.output()).not.toContain('is corrupt');
    });

    it('stop removes the container, run starts a new one, delete leaves none', async () => {
      const stop = await tessera('stop', 'holder', '-p', c.defaultProject);
      expect(stop.code, stop.stderr).toBe(0);
      await c.api.waitPhase(holderId, 'Stopped', 30_000);
      // Podman serialises its commands on one lock: other suites' podman calls can make this slow.
      await until(async () => (runningOf(node).length > 0 ? null : true), 'no running container', 45_000);
      const run = await tessera('run', 'holder', '-p', c.defaultProject);
      expect(run.code, run.stderr).toBe(0);
      await c.api.waitPhase(holderId, 'Running', 60_000);
      expect(runningOf(node)).toHaveLength(1);
      const del = await tessera('delete', 'holder', '-p', c.defaultProject);
      expect(del.code, del.stderr).toBe(0);
      // Gone from podman altogether, not only stopped: the agent removed it.
      await until(async () => (containersOf(node).length > 0 ? null : true), 'the container removed', 45_000);
    }, 180_000);
  });
});
