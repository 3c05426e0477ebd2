/**
 * The agent's wiring over a fake GpuDriver whose samples the test pushes by hand: start-up errors,
 * the local HTTP endpoint and state file, the event ring, status composition and the API's refusals.
 * Enforcement on real processes under the sim backend is in integration/.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Agent, type AgentOptions, createAgent } from '../../agent/agent.ts';
import type { AgentEvent } from '../../agent/api.ts';
import type { GpuDriver, GpuInventory, GpuSample, SampleHandlers } from '../../agent/gpu/driver.ts';
import { stateFilePath } from '../../agent/state-file.ts';
import { err, ok, tesseraError } from '../../common/errors.ts';
import { createLogger } from '../../common/log.ts';
import { until } from '../helpers/wait.ts';
import { HOST } from './integration/helpers.ts';
import { type TestRuntime, testRuntime } from './runtime/helpers.ts';

const UUID = 'GPU-11111111-2222-3333-4444-555555555555';
const INVENTORY: GpuInventory = {
  driverVersion: '580.159.04',
  cudaVersion: '13.0',
  gpus: [
    {
      index: 0,
      uuid: UUID,
      model: 'NVIDIA H100 80GB HBM3',
      memoryTotalMiB: 81559,
      memoryReservedMiB: 479,
      memoryUsedMiB: 0,
      migMode: 'disabled',
      migDevices: [],
      eccUncorrectedVolatile: 0,
      eccUncorrectedAggregate: 0,
      temperatureC: 34,
      temperatureSlowdownC: 87,
      temperatureShutdownC: 92,
      powerDrawW: 70,
      powerLimitW: 700,
      utilizationPct: 0,
      throttleReasons: [],
      processes: [],
    },
  ],
};

/** A driver whose samples and sampler errors the test sends. */
function fakeDriver(inventory: GpuInventory | null = INVENTORY) {
  let handlers: SampleHandlers | null = null;
  const driver: GpuDriver = {
    kind: 'sim',
    discover: async () =>
      inventory === null
        ? err(
            tesseraError(
              'TESSERA_E_GPU_DRIVER',
              'nvidia-smi not found: install the NVIDIA driver, or run with --gpu sim',
            ),
          )
        : ok(inventory),
    sample(_ms, h) {
      handlers = h;
      return { stop: async () => {} };
    },
    swapSupport: async () => ok(true),
    checkpointState: async () => ok('running' as const),
    checkpoint: async () => ok(true),
    restore: async () => ok(true),
  };
  return {
    driver,
    push: (s: Omit<GpuSample, 'gpus'> & { memoryUsedMiB?: number }) =>
      handlers?.onSample({
        atMs: s.atMs,
        processes: s.processes,
        gpus: [
          {
            uuid: UUID,
            index: 0,
            utilizationPct: 20,
            memoryUsedMiB: s.memoryUsedMiB ?? 0,
            memoryTotalMiB: 81559,
            temperatureC: 41,
            powerDrawW: 150,
          },
        ],
      }),
    fail: (message: string) => handlers?.onError?.(tesseraError('TESSERA_E_GPU_DRIVER', message)),
  };
}

let dir = '';
let agent: Agent | null = null;
const pids: number[] = [];
afterEach(async () => {
  await agent?.close();
  agent = null;
  for (const pid of pids.splice(0)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Gone.
    }
  }
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
  for (const r of runtimes.splice(0)) await r.cleanup();
});

const runtimes: TestRuntime[] = [];
/** A process runtime for one agent of these tests, cleaned up after each. */
function runtime(): TestRuntime {
  const r = testRuntime();
  runtimes.push(r);
  return r;
}

async function start(driver: GpuDriver, opts: Partial<AgentOptions> = {}): Promise<Agent> {
  dir = mkdtempSync(join(tmpdir(), 'tessera-agent-unit-'));
  const r = await createAgent({
    dataDir: dir,
    driver,
    runtime: runtime().runtime,
    host: HOST,
    log: createLogger({ stream: { write: () => {} } }),
    ...opts,
  });
  if (!r.ok) throw new Error(r.error.message);
  agent = r.value;
  return r.value;
}

/** A port free right now (the OS picks it; nothing else on this machine races for it in tests). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const get = async (a: Agent, path: string) => {
  const res = await fetch(`http://127.0.0.1:${a.port}${path}`);
  return { status: res.status, text: await res.text() };
};

describe('createAgent', () => {
  it("fails to start with the driver's error, which names --gpu sim when nvidia-smi is missing", async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-agent-unit-'));
    const r = await createAgent({
      dataDir: dir,
      driver: fakeDriver(null).driver,
      runtime: runtime().runtime,
      host: HOST,
    });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain('--gpu sim');
  });

  it('serves /metrics and /healthz, and nothing else, on its --metrics-address listener', async () => {
    const port = await freePort();
    const fake = fakeDriver();
    await start(fake.driver, { metricsAddress: { host: '127.0.0.1', port } });
    fake.push({ atMs: Date.now(), processes: [], memoryUsedMiB: 512 });
    const at = (path: string) => fetch(`http://127.0.0.1:${port}${path}`);
    expect((await at('/metrics')).status).toBe(200);
    expect(await (await at('/metrics')).text()).toContain('tessera_gpu_');
    expect((await at('/healthz')).status).toBe(200);
    // Pod detail stays on the loopback listener.
    expect((await at('/status')).status).toBe(404);
    expect((await at('/events')).status).toBe(404);
  });

  it('serves /status, /healthz, /metrics and /events on 127.0.0.1 and writes its port into the state file', async () => {
    const fake = fakeDriver();
    const a = await start(fake.driver);
    fake.push({ atMs: Date.now(), processes: [], memoryUsedMiB: 512 });

    const state = JSON.parse(readFileSync(stateFilePath(dir), 'utf8'));
    expect(state).toMatchObject({
      version: 1,
      pid: process.pid,
      port: a.port,
      stoppedAtMs: null,
      gpu: { kind: 'sim' },
    });

    const status = JSON.parse((await get(a, '/status')).text);
    expect(status.allocator).toBe('not connected');
    expect(status.node.hostname).toBe('test-node');
    expect(status.gpus[0]).toMatchObject({ uuid: UUID, sample: { memoryUsedMiB: 512, temperatureC: 41 } });
    expect(await get(a, '/healthz')).toMatchObject({ status: 200 });
    const metrics = await get(a, '/metrics');
    expect(metrics.text).toContain(
      `tessera_gpu_memory_used_bytes{gpu="${UUID}",index="0",model="NVIDIA H100 80GB HBM3"} ${512 * 1024 * 1024}`,
    );
    const events = JSON.parse((await get(a, '/events?since=0')).text) as AgentEvent[];
    expect(events[0]).toMatchObject({ seq: 1, kind: 'agent-started' });
    expect((await get(a, '/nope')).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${a.port}/status`, { method: 'POST' })).status).toBe(405);
  });

  it('answers /healthz 503 once no sample came for five intervals', async () => {
    let t = 1_000_000;
    const fake = fakeDriver();
    const a = await start(fake.driver, { now: () => t, sampleIntervalMs: 1000 });
    fake.push({ atMs: t, processes: [] });
    expect((await get(a, '/healthz')).status).toBe(200);
    t += 6000;
    const h = await get(a, '/healthz');
    expect(h.status).toBe(503);
    expect(JSON.parse(h.text)).toMatchObject({ ok: false, lastSampleAtMs: 1_000_000 });
  });

  it('keeps only the newest events, numbered, and reports sampler errors as events', async () => {
    const fake = fakeDriver();
    const a = await start(fake.driver, { eventCapacity: 3 });
    for (let i = 1; i <= 5; i++) fake.fail(`stream died ${i}`);
    const events = a.events();
    expect(events.map((e) => e.seq)).toEqual([4, 5, 6]);
    expect(events.at(-1)).toMatchObject({ kind: 'sampler-error', reason: 'stream died 5', podId: null });
    expect(a.events(5).map((e) => e.seq)).toEqual([6]);
    expect(a.status().counters).toMatchObject({ samplerErrors: 5, events: 6 });
    expect(a.status().agent.lastSamplerError).toBe('stream died 5');
  });

  it("shows a pod's limits and its measured GPU memory, and records its life as events", async () => {
    const fake = fakeDriver();
    const a = await start(fake.driver);
    const r = a.startPod({
      podId: 'p1',
      workload: 'train',
      project: 'team-a',
      epoch: 1,
      command: ['/bin/sh', '-c', 'echo READY; exec sleep 30'],
      env: {},
      grants: [{ uuid: UUID, gpuMilli: 500, memoryMiB: 4096, memoryLimitMiB: 8192 }],
      priority: 10,
      graceSeconds: 1,
    });
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.state).toBe('starting');
    const pid = await until(() => a.status().pods[0]?.pid, 'the launch', 5000);
    pids.push(pid);
    fake.push({
      atMs: Date.now(),
      processes: [{ gpuUuid: UUID, pid, usedMemoryMiB: 1234 }],
      memoryUsedMiB: 1234,
    });

    const pod = a.status().pods[0]!;
    expect(pod).toMatchObject({
      podId: 'p1',
      project: 'team-a',
      priority: 10,
      grants: [{ memoryMiB: 4096, memoryLimitMiB: 8192 }],
      gpuMemoryUsedMiB: { [UUID]: 1234 },
      swappedOut: false,
    });
    expect(a.status().gpus[0]?.podIds).toEqual(['p1']);
    const metrics = (await get(a, '/metrics')).text;
    expect(metrics).toContain(
      `tessera_pod_gpu_memory_used_bytes{pod="p1",gpu="${UUID}"} ${1234 * 1024 * 1024}`,
    );
    expect(metrics).toContain(
      `tessera_workload_gpu_memory_used_bytes{project="team-a",workload="train"} ${1234 * 1024 * 1024}`,
    );
    expect(metrics).toContain('tessera_workload_gpus_allocated{project="team-a",workload="train"} 0.5');
    expect(metrics).toContain('tessera_workload_gpu_idle_seconds_total{project="team-a",workload="train"}');

    expect((await a.stopPod('p1', 'finished by the test', 1)).ok).toBe(true);
    await until(
      () => a.events().some((e) => e.kind === 'pod-state' && e.state === 'exited'),
      'the exit event',
      5000,
    );
    const states = a
      .events()
      .filter((e) => e.podId === 'p1')
      .map((e) => e.state);
    expect(states.slice(0, 2)).toEqual(['starting', 'running']);
    expect(states.at(-1)).toBe('exited');
    expect(a.events().at(-1)?.reason).toBe('finished by the test');
  });

  it('refuses swaps with the reason: swap off, unknown pod, nothing swapped out', async () => {
    const off = await start(fakeDriver().driver);
    const r = await off.swap('p1', 'out');
    expect(r.ok ? '' : r.error.message).toBe(
      'swap is not enabled on this node: start the agent with --swap-pool SIZE',
    );
    expect(off.status().swap).toMatchObject({ enabled: false, capacityMiB: 0 });
    await off.close();
    rmSync(dir, { recursive: true, force: true });

    const on = await start(fakeDriver().driver, { swapPoolMiB: 1024 });
    const unknown = await on.swap('nobody', 'out');
    expect(unknown.ok ? '' : unknown.error.code).toBe('TESSERA_E_NOT_FOUND');
    const notOut = await on.swap('nobody', 'in');
    expect(notOut.ok ? '' : notOut.error.message).toBe('pod nobody is not swapped out');
  });

  it('on close writes that it stopped, stops serving and refuses new pods', async () => {
    const a = await start(fakeDriver().driver);
    const port = a.port;
    await a.close();
    const state = JSON.parse(readFileSync(stateFilePath(dir), 'utf8'));
    expect(state.stoppedAtMs).toEqual(expect.any(Number));
    expect(state.status.agent.port).toBe(port);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    const r = a.startPod({
      podId: 'late',
      workload: 'w',
      project: 'p',
      epoch: 1,
      command: ['/bin/true'],
      env: {},
      grants: [],
      priority: 0,
      graceSeconds: 1,
    });
    expect(r.ok ? '' : r.error.code).toBe('TESSERA_E_CONFLICT');
  });
});
