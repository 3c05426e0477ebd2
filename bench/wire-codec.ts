/**
 * Encode and decode throughput of the wire codec (common/wire.ts) on the two frames that matter: a
 * node's heartbeat Status (8 GPUs, ~2 KiB of pod states, as bench/link-frames.ts builds it) and a
 * container StartPod. Prints ops/s, each frame's size and a hash of its bytes, so a change to the
 * codec can be compared byte for byte and for speed: `npx tsx bench/wire-codec.ts`.
 */
import { createHash } from 'node:crypto';
import { decodeFrame, encodeFrame, type FrameBody, makeFrame } from '../common/wire.ts';
import { padTo, SEQ_BASE, simNode } from './link-frames.ts';

const node = simNode(3);
node.pods.set('p1', {
  podId: 'p1',
  epoch: 2,
  state: 'running',
  pid: 4242,
  exitCode: null,
  signal: null,
  reason: null,
  startedAtMs: 1_700_000_000_000,
});
padTo(node, 2048);

const status: FrameBody = {
  case: 'status',
  value: {
    seq: SEQ_BASE + 5,
    atMs: 1_700_000_123_456,
    gpuSamples: node.gpuUuids.map((uuid, index) => ({
      ...{ uuid, index, utilizationPct: 37.5, memoryUsedMiB: 40_000, memoryTotalMiB: 81_559 },
      ...{ temperatureC: 61, powerDrawW: 455.5 },
    })),
    podStates: [...node.pods.values(), ...node.padding],
  },
};

const startPod: FrameBody = {
  case: 'startPod',
  value: {
    podId: 'team-a/train-llm-0',
    epoch: 7,
    spec: {
      ...{ workload: 'train-llm', project: 'team-a', command: ['python', 'train.py', '--epochs', '3'] },
      env: { NCCL_DEBUG: 'INFO', HF_HOME: '/data/hf', CUDA_VISIBLE_DEVICES: '0,1' },
      networkEnv: { TESSERA_PORT_RENDEZVOUS: '40000', MASTER_ADDR: '10.0.0.7', MASTER_PORT: '40000' },
      ...{ workingDir: '/work', priority: 50, graceSeconds: 30, rescheduleAfterMs: 60_000 },
      readiness: { linePrefix: 'READY', delayMs: null, probe: null },
      ...{ image: 'nvcr.io/nvidia/pytorch:24.05-py3', imagePullPolicy: 'IfNotPresent' as const },
      pullCredential: { server: 'nvcr.io', username: '$oauthtoken', password: 'x'.repeat(80) },
      ...{ runAsUser: 1000, runAsGroup: 1000, cpuMillis: 16_000, memoryMiB: 131_072 },
      mounts: [{ hostPath: '/data', containerPath: '/data', readOnly: true }],
    },
    gpuGrants: [0, 1].map((i) => ({
      uuid: node.gpuUuids[i] ?? '',
      ...{ gpuMilli: 1000, memoryMiB: 81_559, memoryLimitMiB: 81_559 },
    })),
  },
};

function opsPerSecond(run: () => unknown): number {
  for (let i = 0; i < 2000; i += 1) run();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < 2000) {
    for (let i = 0; i < 100; i += 1) run();
    n += 100;
  }
  return Math.round(n / ((performance.now() - start) / 1000));
}

for (const [name, body] of [
  ['status', status],
  ['startPod', startPod],
] as const) {
  const frame = makeFrame(body);
  const bytes = encodeFrame(frame);
  const decoded = decodeFrame(bytes);
  if (!decoded.ok) throw new Error(`${name}: ${decoded.error.message}`);
  const sha = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const enc = opsPerSecond(() => encodeFrame(frame));
  const dec = opsPerSecond(() => decodeFrame(bytes));
  console.log(`${name}: ${bytes.byteLength} bytes sha256 ${sha}; encode ${enc} ops/s, decode ${dec} ops/s`);
}
