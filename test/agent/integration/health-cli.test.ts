/**
 * `tessera health` and `tessera agent` through the CLI (in-process `runCli`) on sim GPUs: healthy
 * with the agent running and its pods listed, unhealthy (exit 1) after an ECC error is injected into
 * the sim state, the agent never started, and the clear errors without nvidia-smi.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../../agent/agent.ts';
import { patchSimGpu } from '../../../agent/gpu/sim/spec.ts';
import { bufferIo } from '../../../cli/io.ts';
import { runCli } from '../../../cli/program.ts';
import { until } from '../../helpers/wait.ts';
import { type SimNode, simNode, startAgent, startedPid, workloadPod } from './helpers.ts';

let node: SimNode | null = null;
let agent: Agent | null = null;
afterEach(async () => {
  await agent?.close();
  agent = null;
  await node?.cleanup();
  node = null;
});

async function tessera(...args: string[]) {
  const io = bufferIo();
  const code = await runCli(args, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

const hasNvidiaSmi = (process.env.PATH ?? '')
  .split(':')
  .some((d) => d !== '' && existsSync(join(d, 'nvidia-smi')));

describe.skipIf(process.platform !== 'linux')('tessera health on sim GPUs', () => {
  it('is healthy with the agent running, and lists its pods with their limits and the swap pool', async () => {
    node = await simNode('2xH100-80GB');
    agent = await startAgent(node, { swapPoolMiB: 8192 });
    await startedPid(node, agent, workloadPod('p0', node.uuid(0), ['--mib', '1000'], 2048, 4096));
    const a = agent;
    await until(() => a.status().pods[0]?.gpuMemoryUsedMiB[node!.uuid(0)] === 1000, 'p0 sampled', 5000);

    // No --gpu: the backend and sim state are the agent's, from its state file.
    const r = await tessera('health', '--data', node.dataDir, '-o', 'json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.level).toBe('healthy');
    expect(report.driver).toMatchObject({ kind: 'sim', ok: true, driverVersion: '580.159.04' });
    expect(report.gpus.map((g: { level: string }) => g.level)).toEqual(['healthy', 'healthy']);
    expect(report.agent).toMatchObject({ running: true, source: 'http', pid: process.pid, port: agent.port });
    expect(report.agent.view.swap).toEqual({ enabled: true, capacityMiB: 8192, usedMiB: 0 });
    expect(report.agent.view.allocator).toBe('not connected');
    expect(report.agent.view.pods[0]).toMatchObject({
      podId: 'p0',
      grants: [{ memoryMiB: 2048, memoryLimitMiB: 4096 }],
      gpuMemoryUsedMiB: { [node.uuid(0)]: 1000 },
    });

    const table = await tessera('health', '--data', node.dataDir);
    expect(table.stdout).toMatch(
      /^agent: running \(pid \d+, http:\/\/127\.0\.0\.1:\d+\); allocator: not connected$/m,
    );
    expect(table.stdout).toMatch(/^p0 +ready +\d+ +GPU-\S+ +2048 MiB +4096 MiB +1000 MiB$/m);
    expect(table.stdout).toContain('swap pool: 0MiB of 8GiB used');
    expect(table.stdout.trimEnd().endsWith('health: healthy')).toBe(true);
  });

  it('exits 1 when an uncorrectable ECC error is injected into a sim GPU, and names the GPU', async () => {
    node = await simNode('2xH100-80GB');
    await patchSimGpu(node.simDir, 1, {
      ecc: { volatileCorrected: 0, volatileUncorrected: 2, aggregateCorrected: 0, aggregateUncorrected: 2 },
    });
    const r = await tessera(
      'health',
      '--gpu',
      'sim',
      '--sim-state',
      node.simDir,
      '--data',
      node.dataDir,
      '-o',
      'json',
    );
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.level).toBe('unhealthy');
    expect(report.gpus[0].level).toBe('healthy');
    expect(report.gpus[1]).toMatchObject({
      level: 'unhealthy',
      eccUncorrectedVolatile: 2,
      reasons: ['2 uncorrectable ECC error(s) since the driver loaded'],
    });
    expect(r.stderr).toContain(`node unhealthy: GPU 1 (${node.uuid(1)}): 2 uncorrectable ECC error(s)`);
  });

  it('still probes the GPUs when the agent was never started, and says so', async () => {
    node = await simNode('1xH100-80GB');
    const r = await tessera('health', '--gpu', 'sim', '--sim-state', node.simDir, '--data', node.dataDir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `agent: not running (state file ${join(node.dataDir, 'agent-state.json')} missing)`,
    );
    expect(r.stdout).toMatch(/^0 +NVIDIA H100 80GB HBM3 +healthy/m);
    expect(r.stdout.trimEnd().endsWith('health: degraded')).toBe(true);
  });

  it('says the agent stopped cleanly after it closed', async () => {
    node = await simNode('1xH100-80GB');
    const a = await startAgent(node);
    await a.close();
    const r = await tessera('health', '--data', node.dataDir, '-o', 'json');
    expect(JSON.parse(r.stdout).agent.message).toMatch(/is \d+s old; it stopped cleanly\)$/);
  });

  it('rejects --sim-state with --gpu nvidia as a usage error (exit 2)', async () => {
    const r = await tessera('health', '--gpu', 'nvidia', '--sim-state', '/tmp/x');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--sim-state needs --gpu sim');
  });

  it.skipIf(hasNvidiaSmi)(
    'without nvidia-smi: health is unhealthy and the agent refuses to start, both naming --gpu sim',
    async () => {
      const data = mkdtempSync(join(tmpdir(), 'tessera-nogpu-'));
      const h = await tessera('health', '--gpu', 'nvidia', '--data', data, '-o', 'json');
      expect(h.code).toBe(1);
      expect(JSON.parse(h.stdout).driver.error).toBe(
        'nvidia-smi not found: install the NVIDIA driver, or run with --gpu sim',
      );
      const a = await tessera('agent', '--gpu', 'nvidia', '--data', data);
      expect(a.code).toBe(1);
      expect(a.stderr).toMatch(
        /^TESSERA_E_GPU_DRIVER: nvidia-smi not found: install the NVIDIA driver, or run with --gpu sim/,
      );
    },
  );
});
