/**
 * The container runtime against the host's real podman: logs through our fds, stop, freeze, OOM,
 * crashes, adopt after an agent restart, a `setsid` grandchild, pulls. Skipped where podman cannot
 * run (not Linux, not root, not installed), with that reason.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIM_TOOLS } from '../../../../agent/gpu/sim/spec.ts';
import { createContainerRuntime } from '../../../../agent/runtime/container/index.ts';
import { podmanAt } from '../../../../agent/runtime/container/podman.ts';
import type { LaunchedPod, PodRuntime, RuntimeRef } from '../../../../agent/runtime/types.ts';
import { until } from '../../../helpers/wait.ts';
import { makeSimNode, smi } from '../../gpu/sim/helpers.ts';
import {
  BUSYBOX,
  busyboxSpec,
  ensureBusybox,
  podmanUnavailable,
  podRequest,
  quietLogger,
  removePodDirs,
} from './helpers.ts';

const why = podmanUnavailable();
// One node name for every run, so runs do not leave a parent cgroup each.
const nodeName = 'ctrtest';
const cleanups: (() => void)[] = [];
const onCleanup = (f: () => void) => cleanups.push(f);

describe.skipIf(why !== null)(
  `container runtime on podman${why === null ? '' : ` (skipped: ${why})`}`,
  () => {
    let rt: PodRuntime;
    const refs: RuntimeRef[] = [];

    beforeAll(async () => {
      await ensureBusybox();
      rt = createContainerRuntime({ nodeName, logger: quietLogger, watchIntervalMs: 100 });
    });

    afterAll(async () => {
      for (const r of refs) await rt.release(r);
      removePodDirs();
      for (const f of cleanups) f();
    });

    async function launch(command: string[], over = {}, env: Record<string, string> = { PATH: '/bin' }) {
      const p = podRequest(busyboxSpec(command, over), env);
      const r = await rt.launch(p.req);
      p.close();
      if (!r.ok) throw new Error(r.error.message);
      refs.push(r.value.ref);
      return { pod: r.value, ...p };
    }

    it('runs the command with its env, writing our log files directly, and reports a clean exit', async () => {
      const { pod, stdout, stderr, events, req } = await launch(
        ['sh', '-c', 'echo "out $FOO"; echo err >&2'],
        {},
        {
          PATH: '/bin',
          FOO: 'bar baz=1',
        },
      );
      expect(pod.ref.kind).toBe('container');
      if (pod.ref.kind !== 'container') return;
      expect(pod.ref.id).toMatch(/^[0-9a-f]{64}$/);
      expect(pod.ref.name).toMatch(/^tessera-ctrtest-.*-e1$/);
      expect(await pod.ended).toEqual({ exitCode: 0, signal: null, reason: null });
      expect(stdout()).toBe('out bar baz=1\n');
      expect(stderr()).toBe('err\n');
      expect(events.map((e) => e.kind)).toEqual(['container-created']);
      expect(events[0]?.message).toBe(`Created container ${pod.ref.id.slice(0, 12)}`);
      // The env file and the cidfile are gone once podman has read them.
      expect(readdirSync(req.podDir).sort()).toEqual(['stderr.log', 'stdout.log']);
    });

    it('keeps a crash exit code', async () => {
      const { pod } = await launch(['sh', '-c', 'exit 7']);
      expect(await pod.ended).toEqual({ exitCode: 7, signal: null, reason: null });
    });

    it('SIGTERM reaches the command children though PID 1 ignores it; SIGKILL ends a pod that ignores SIGTERM', async () => {
      const a = await launch(['sh', '-c', 'sleep 1000 & wait $!']);
      await until(() => rt.pids(a.pod.ref).length >= 2, "both of pod a's processes", 5000);
      rt.signal(a.pod.ref, 'SIGTERM');
      expect((await a.pod.ended).exitCode).toBe(143);

      const b = await launch(['sh', '-c', 'trap "" TERM; while true; do sleep 0.1; done']);
      await until(() => rt.pids(b.pod.ref).length >= 2, "both of pod b's processes", 5000);
      rt.signal(b.pod.ref, 'SIGTERM');
      await new Promise((r) => setTimeout(r, 700));
      expect(rt.alive(b.pod.ref)).toBe(true);
      rt.signal(b.pod.ref, 'SIGKILL');
      expect(await b.pod.ended).toEqual({ exitCode: 137, signal: 'SIGKILL', reason: null });
      expect(rt.alive(b.pod.ref)).toBe(false);
    });

    it('freezes and thaws the pod: a counting loop stops advancing while frozen', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tessera-ctr-count-'));
      onCleanup(() => rmSync(dir, { recursive: true, force: true }));
      const count = () => Number(readFileSync(join(dir, 'n'), 'utf8').trim() || '0');
      const { pod } = await launch(
        ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i > /w/n; sleep 0.02; done'],
        {
          mounts: [{ hostPath: dir, containerPath: '/w', readOnly: false }],
        },
      );
      await until(() => existsSync(join(dir, 'n')) && count() > 3, 'the counter to count', 5000);
      expect(rt.freeze(pod.ref, true).ok).toBe(true);
      await new Promise((r) => setTimeout(r, 200));
      const frozenAt = count();
      await new Promise((r) => setTimeout(r, 600));
      expect(count()).toBe(frozenAt);
      expect(rt.alive(pod.ref)).toBe(true);
      expect(rt.freeze(pod.ref, false).ok).toBe(true);
      await until(() => count() > frozenAt + 3, 'the thawed counter to count on', 5000);
      // Podman still removes a container that was frozen and thawed behind its back.
      await rt.release(pod.ref);
      expect((await pod.ended).exitCode).toBe(137);
    });

    it('ends OOMKilled past its memory limit', async () => {
      const { pod } = await launch(['sh', '-c', 'tail /dev/zero'], { memoryMiB: 16 });
      const end = await pod.ended;
      expect(end.reason).toBe('OOMKilled');
      expect(end.exitCode).toBe(137);
    });

    it('a setsid grandchild dies with the pod on SIGKILL', async () => {
      const { pod } = await launch(['sh', '-c', 'setsid sh -c "sleep 1000" & sleep 1000']);
      // sh runs the last command by exec: PID 1 is `sleep`, with the setsid'd `sleep` beside it.
      const sid = (p: number) => readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]?.split(' ')[3];
      // Two sessions once the background child has called setsid (it forks before it does).
      await until(() => new Set(rt.pids(pod.ref).map(sid)).size === 2, 'two sessions in the pod', 5000);
      const pids = rt.pids(pod.ref);
      rt.signal(pod.ref, 'SIGKILL');
      await pod.ended;
      await until(() => pids.every((p) => !existsSync(`/proc/${p}`)), "the pod's processes to end");
      expect(rt.pids(pod.ref)).toEqual([]);
    });

    it('a fresh runtime adopts a running container by ref (same id), then sees its end; exited and removed ones end', async () => {
      const { pod } = await launch(['sh', '-c', 'sleep 1000']);
      const spec = busyboxSpec([]);
      const again = createContainerRuntime({ nodeName, logger: quietLogger, watchIntervalMs: 100 });
      const adopted = await again.adopt(pod.ref, spec);
      expect('running' in adopted).toBe(true);
      if (!('running' in adopted)) return;
      const run: LaunchedPod = adopted.running;
      expect(run.ref.kind === 'container' && pod.ref.kind === 'container' && run.ref.id === pod.ref.id).toBe(
        true,
      );
      expect(run.ref).toEqual(pod.ref);
      again.signal(run.ref, 'SIGKILL');
      expect((await run.ended).exitCode).toBe(137);

      const exited = await again.adopt(pod.ref, spec);
      expect(exited).toEqual({ ended: { exitCode: 137, signal: 'SIGKILL', reason: null } });
      await again.release(pod.ref);
      await again.release(pod.ref);
      const gone = await again.adopt(pod.ref, spec);
      expect('ended' in gone && gone.ended.reason).toMatch(
        /^ContainerMissing: container tessera-.* no longer exists/,
      );
    });

    it('IfNotPresent does not pull a present image; Never fails for an absent one', async () => {
      const { pod, events } = await launch(['true']);
      await pod.ended;
      expect(events.some((e) => e.kind === 'image-pulling')).toBe(false);
      const p = podRequest(
        busyboxSpec(['true'], { image: 'localhost/tessera-ctr-test/absent:1', imagePullPolicy: 'Never' }),
      );
      const r = await rt.launch(p.req);
      p.close();
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error.message).toBe(
        'ImagePullFailed: image localhost/tessera-ctr-test/absent:1 is not present on the node and imagePullPolicy is Never',
      );
    });

    it('IfNotPresent checks an image once per runtime, and pulls again when it was removed behind its back', async () => {
      const calls: string[] = [];
      const real = podmanAt('podman');
      const VERBS = ['run', 'image', 'pull', 'inspect', 'rm'];
      const counted = createContainerRuntime(
        { nodeName, logger: quietLogger, watchIntervalMs: 100, pullRetry: { retries: 0 } },
        {
          podman: (args, call) => {
            const at = args.findIndex((a) => VERBS.includes(a));
            calls.push(args.slice(at, at + 2).join(' '));
            return real(args, call);
          },
        },
      );
      const exists = () => calls.filter((c) => c.startsWith('image exists')).length;
      const run = async (image: string) => {
        const p = podRequest(busyboxSpec(['true'], { image }));
        const r = await counted.launch(p.req);
        p.close();
        if (!r.ok) throw new Error(r.error.message);
        refs.push(r.value.ref);
        await r.value.ended;
        return p.events;
      };
      await run(BUSYBOX);
      await run(BUSYBOX);
      expect(exists()).toBe(1);
      // A tag of its own, removed between two starts: the second start finds it gone and makes it present again.
      const tag = `localhost/tessera-test/busybox-gone:${process.pid}`;
      execFileSync('podman', ['tag', BUSYBOX, tag]);
      await run(tag);
      execFileSync('podman', ['rmi', tag], { stdio: 'ignore' });
      const before = calls.length;
      await expect(run(tag)).rejects.toThrow(/ImagePullFailed/);
      // It ran podman run (image not known), then checked and tried to pull, as for an absent image.
      expect(calls.slice(before).map((c) => c.split(' ')[0])).toEqual(['run', 'image', 'pull']);
      expect(calls.slice(before)[1]).toBe('image exists');
    });

    it('a pull from an unreachable registry fails after the configured retries', async () => {
      const port = await closedPort();
      const reg = `127.0.0.1:${port}`;
      const quick = createContainerRuntime({
        nodeName,
        logger: quietLogger,
        insecureRegistries: [reg],
        pullRetry: { retries: 1, baseBackoffMs: 10, maxBackoffMs: 20 },
      });
      const p = podRequest(busyboxSpec(['true'], { image: `${reg}/x/y:1` }));
      const r = await quick.launch(p.req);
      p.close();
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error.message).toMatch(
        new RegExp(
          `^ImagePullFailed: pinging container registry ${reg}: Get "http://${reg}/v2/": dial tcp ${reg}: connect: connection refused \\(after 2 attempts\\)$`,
        ),
      );
      expect(p.events.map((e) => e.kind)).toEqual(['image-pulling', 'image-pull-retry']);
    }, 60_000);

    it('reports podman run failures with podman own message', async () => {
      const p = podRequest(busyboxSpec(['/no/such/binary']));
      const r = await rt.launch(p.req);
      p.close();
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error.message).toMatch(/no such file or directory/);
      expect(
        execFileSync('podman', ['ps', '-a', '-q', '--filter', `name=${p.req.spec.podId}`])
          .toString()
          .trim(),
      ).toBe('');
    });

    it('a sim GPU workload in the container is reported by nvidia-smi under a host pid of the pod', async () => {
      const node = await makeSimNode('1xH100-80GB');
      const gpu = node.state.gpus[0];
      if (gpu === undefined) throw new Error('no sim GPU');
      const sim = createContainerRuntime({
        nodeName,
        logger: quietLogger,
        simStateDir: node.dir,
        watchIntervalMs: 100,
      });
      const simDir = SIM_TOOLS.workload.slice(0, SIM_TOOLS.workload.lastIndexOf('/'));
      // Node from the host: /usr, and Debian's merged /lib and /lib64, read-only.
      const ro = (d: string, at = d) => ({ hostPath: d, containerPath: at, readOnly: true });
      const spec = busyboxSpec(['/usr/bin/node', SIM_TOOLS.workload, '--mib', '512'], {
        grants: [{ uuid: gpu.uuid, gpuMilli: 1000, memoryMiB: 1024, memoryLimitMiB: 1024 }],
        mounts: [ro('/usr'), ro('/usr/lib', '/lib'), ro('/usr/lib64', '/lib64'), ro(simDir)],
      });
      const p = podRequest(spec, { PATH: '/usr/bin:/bin', ...node.env, CUDA_VISIBLE_DEVICES: gpu.uuid });
      const r = await sim.launch(p.req);
      p.close();
      if (!r.ok) throw new Error(r.error.message);
      refs.push(r.value.ref);
      await until(() => p.stdout().startsWith('READY'), 'the READY line', 10_000);
      expect(p.stdout()).toMatch(/^READY pid=\d+ gpu=/);
      const apps = await smi(node, '--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits');
      const [pid, mib] = apps.stdout.trim().split(', ').map(Number);
      expect(mib).toBe(512);
      expect(sim.pids(r.value.ref)).toContain(pid);
      sim.signal(r.value.ref, 'SIGKILL');
      await r.value.ended;
      await node.close();
    });
  },
);

/** A local port nobody listens on (bound, read, closed). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const addr = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return typeof addr === 'object' && addr !== null ? addr.port : 1;
}
