/**
 * Container runtime benchmark. A benchmark, not a test: it prints figures, never fails.
 *
 * 1. Launch latency: `launch()` called to the container running (its cidfile read, inspected, the
 *    ref built), p50 / p99 over N runs of a cached busybox image, against a plain
 *    `podman run -d --log-driver passthrough` of the same image with the same ulimits, alternated
 *    run by run so load on a shared host hits both alike.
 * 2. What a per-pod `podman wait` would cost (the alternative to the in-process watch): its RSS.
 *
 *   npx tsx bench/container-launch.ts [--runs 20]
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createContainerRuntime } from '../agent/runtime/container/index.ts';
import {
  BUSYBOX,
  busyboxSpec,
  ensureBusybox,
  podRequest,
  quietLogger,
  removePodDirs,
} from '../test/agent/runtime/container/helpers.ts';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 20;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
}

function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m?.[1] === undefined ? 0 : Number(m[1]);
}

async function main(): Promise<void> {
  ensureBusybox();
  const rt = createContainerRuntime({ nodeName: 'ctrbench', logger: quietLogger });
  const ours: number[] = [];
  const plain: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const p = podRequest(busyboxSpec(['sleep', '30']));
    const t0 = performance.now();
    const r = await rt.launch(p.req);
    ours.push(performance.now() - t0);
    p.close();
    if (!r.ok) throw new Error(r.error.message);

    const name = `ctrbench-plain-${process.pid}-${i}`;
    const t1 = performance.now();
    execFileSync(
      'podman',
      [
        'run',
        '-d',
        '--name',
        name,
        '--log-driver',
        'passthrough',
        '--ulimit',
        'nofile=20000:20000',
        '--ulimit',
        'nproc=4096:4096',
        '--network',
        'host',
        BUSYBOX,
        'sleep',
        '30',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    plain.push(performance.now() - t1);

    await rt.release(r.value.ref);
    execFileSync('podman', ['rm', '-f', '-t', '0', name], { stdio: 'ignore' });
  }
  removePodDirs();
  const f = (x: number) => `${(x / 1000).toFixed(3)} s`;
  console.log(
    `launch() to running, ${RUNS} runs: p50 ${f(pct(ours, 50))}  p99 ${f(pct(ours, 99))}  max ${f(Math.max(...ours))}`,
  );
  console.log(
    `podman run -d,       ${RUNS} runs: p50 ${f(pct(plain, 50))}  p99 ${f(pct(plain, 99))}  max ${f(Math.max(...plain))}`,
  );

  // The alternative watcher: one `podman wait` per pod, resident for the pod's life.
  const name = `ctrbench-wait-${process.pid}`;
  execFileSync(
    'podman',
    [
      'run',
      '-d',
      '--name',
      name,
      '--ulimit',
      'nofile=20000:20000',
      '--ulimit',
      'nproc=4096:4096',
      BUSYBOX,
      'sleep',
      '30',
    ],
    { stdio: 'ignore' },
  );
  const w = spawn('podman', ['wait', name], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 2000));
  const conmon = Number(
    execFileSync('podman', ['inspect', '--format', '{{.State.ConmonPid}}', name]).toString().trim(),
  );
  console.log(`podman wait RSS per pod: ${(rssKiB(w.pid ?? 0) / 1024).toFixed(1)} MiB`);
  console.log(`conmon RSS per pod (podman keeps it either way): ${(rssKiB(conmon) / 1024).toFixed(1)} MiB`);
  execFileSync('podman', ['rm', '-f', '-t', '0', name], { stdio: 'ignore' });
}

await main();
