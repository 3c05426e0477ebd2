/**
 * A sim workload in its own pid namespace (as in a container) sees itself as pid 1; the fake
 * nvidia-smi, on the host, reports it by its host pid, as the real driver does, so the agent's
 * GPU-memory enforcement maps it to its pod. `unshare --pid --fork --mount-proc` stands in for a
 * container: the same kernel mechanism without podman.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIM_TOOLS } from '../../../../agent/gpu/sim/spec.ts';
import { until } from '../../../helpers/wait.ts';
import { makeSimNode, type SimNode, smi } from './helpers.ts';

function canUnshare(): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  try {
    execFileSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The child pids of `ppid`, from /proc. */
function childrenOf(ppid: number): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((p) => {
      try {
        return /^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] === String(ppid);
      } catch {
        return false;
      }
    });
}

describe.skipIf(!canUnshare())('sim GPU processes in another pid namespace (needs root and unshare)', () => {
  let node: SimNode;
  beforeAll(async () => {
    node = await makeSimNode('1xH100-80GB');
  });
  afterAll(async () => {
    await node.close();
  });

  it('registers under its namespace and is reported by its host pid, then dropped once dead', async () => {
    const gpu = node.state.gpus[0]!;
    const proc = execa('unshare', ['--pid', '--fork', '--mount-proc', SIM_TOOLS.workload, '--mib', '1024'], {
      env: { ...node.env, CUDA_VISIBLE_DEVICES: gpu.uuid },
      reject: false,
    });
    node.procs.add(proc);
    const procs = path.join(node.dir, 'procs');
    await until(
      () => readdirSync(procs).some((f) => /^ns\d+-1\.json$/.test(f)),
      'a namespaced registration',
      5000,
    );
    const hostPid = childrenOf(proc.pid!)[0];
    expect(hostPid).toBeGreaterThan(1);
    const apps = await smi(node, '--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits');
    expect(apps.stdout.trim()).toBe(`${hostPid}, 1024`);
    // Nothing filed under the namespaced pid 1 as if it were the host's pid 1.
    expect(readdirSync(procs).filter((f) => f === '1.json')).toEqual([]);

    process.kill(hostPid!, 'SIGKILL');
    await proc;
    const after = await smi(node, '--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits');
    expect(after.stdout.trim()).toBe('');
  });
});
