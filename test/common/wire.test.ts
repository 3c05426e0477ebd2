import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
// Only to play a hostile peer that ignores the limits: the product reaches protobufjs via wire.ts.
import protobuf from 'protobufjs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { GpuSampleRow, MigMode } from '../../agent/gpu/driver.ts';
import type { PodRunState } from '../../agent/runner/types.ts';
import { MAX_RESCHEDULE_MS } from '../../common/disconnect.ts';
import type { GpuGrant } from '../../common/resources.ts';
import {
  AGENT_BODIES,
  ALLOCATOR_BODIES,
  checkFrame,
  closeCodeOf,
  decodeFrame,
  encodeFrame,
  type Frame,
  type FrameBody,
  MAX_FRAME_BYTES,
  makeFrame,
  type StartPod,
  type Status,
  WIRE_LIMITS,
  WIRE_VERSION,
  type WireGpuSample,
  type WireMigMode,
  type WirePodState,
  type WirePodStatus,
  type WireProbe,
  WS_CLOSE,
  WS_OPTIONS,
} from '../../common/wire.ts';
import { MAX_ID, PULL_POLICIES } from '../../common/workload-container.ts';
import { failure, value } from '../result.ts';

const protoPath = fileURLToPath(new URL('../../common/proto/tessera.proto', import.meta.url));
const RawFrame = protobuf.loadSync(protoPath).lookupType('tessera.v1.Frame');

/** Encodes a plain protobufjs object with none of wire.ts's checks, as a buggy or hostile peer would. */
function raw(obj: Record<string, unknown>): Uint8Array {
  return RawFrame.encode(obj).finish();
}

const hello: FrameBody = {
  case: 'hello',
  value: {
    node: 'gpu-node-1',
    agentVersion: '0.1.0',
    token: 'join-abc',
    inventory: {
      gpus: [
        {
          uuid: 'GPU-1',
          index: 0,
          model: 'NVIDIA H100 80GB HBM3',
          memoryMiB: 81559,
          migMode: 'disabled',
          healthy: true,
        },
        {
          uuid: 'GPU-2',
          index: 1,
          model: 'NVIDIA H100 80GB HBM3',
          memoryMiB: 81559,
          migMode: 'enabled',
          healthy: false,
        },
      ],
      cpuMillis: 64_000,
      memoryMiB: 512_000,
      labels: { zone: 'a', 'tessera.io/pool': 'default' },
      driverVersion: '550.54.15',
      cudaVersion: null,
      network: { address: '10.0.0.7', portRange: { first: 40000, last: 40999 } },
    },
    runningPods: [
      { podId: 'p1', epoch: 3, state: 'running', pid: 4242 },
      { podId: 'p2', epoch: 0, state: 'swapped-out', pid: null },
    ],
  },
};

const status: FrameBody = {
  case: 'status',
  value: {
    seq: 17,
    atMs: 1_764_000_000_000,
    gpuSamples: [
      {
        uuid: 'GPU-1',
        index: 0,
        utilizationPct: 97.5,
        memoryUsedMiB: 0,
        memoryTotalMiB: 81559,
        temperatureC: 61,
        powerDrawW: 512.25,
      },
      {
        uuid: 'GPU-2',
        index: 1,
        utilizationPct: null,
        memoryUsedMiB: null,
        memoryTotalMiB: null,
        temperatureC: null,
        powerDrawW: null,
      },
    ],
    podStates: [
      {
        podId: 'p1',
        epoch: 3,
        state: 'exited',
        pid: 4242,
        exitCode: -1,
        signal: 'SIGKILL',
        reason: 'GPU OOM: used 5200 MiB > limit 4096 MiB',
        startedAtMs: 1_763_999_000_000,
      },
      {
        podId: 'p2',
        epoch: 1,
        state: 'starting',
        pid: null,
        exitCode: null,
        signal: null,
        reason: null,
        startedAtMs: null,
      },
    ],
  },
};

const event: FrameBody = {
  case: 'event',
  value: {
    seq: 18,
    atMs: 1_764_000_000_500,
    kind: 'gpu-oom',
    podId: 'p1',
    gpuUuid: null,
    reason: 'used 5200 MiB > limit 4096 MiB',
    numbers: { usedMiB: 5200, limitMiB: 4096, ratio: 1.26953125 },
  },
};

const startPod: FrameBody = {
  case: 'startPod',
  value: {
    podId: 'p1',
    epoch: 4,
    spec: {
      workload: 'train-llm',
      project: 'team-a',
      command: ['python', 'train.py', '--epochs=3', ''],
      env: { CUDA_VISIBLE_DEVICES: '0', EMPTY: '' },
      networkEnv: { TESSERA_PORT_RENDEZVOUS: '40000', MASTER_ADDR: '10.0.0.7', MASTER_PORT: '40000' },
      workingDir: '/data/p1',
      priority: -50,
      graceSeconds: 30,
      readiness: {
        linePrefix: null,
        delayMs: null,
        probe: {
          kind: 'http',
          port: 40_001,
          path: '/health',
          initialDelayMs: 500,
          periodMs: 2000,
          timeoutMs: 1000,
          failureThreshold: 3,
        },
      },
      rescheduleAfterMs: 300_000,
      image: 'nvcr.io/nvidia/pytorch:24.05-py3',
      imagePullPolicy: 'Always',
      pullCredential: { server: 'nvcr.io', username: '$oauthtoken', password: 'nvapi-secret' },
      runAsUser: 1000,
      runAsGroup: 0,
      mounts: [
        { hostPath: '/datasets', containerPath: '/data', readOnly: true },
        { hostPath: '/scratch/p1', containerPath: '/scratch/p1', readOnly: false },
      ],
      cpuMillis: 8000,
      memoryMiB: 65_536,
    },
    gpuGrants: [
      { uuid: 'GPU-1', gpuMilli: 500, memoryMiB: 40_000, memoryLimitMiB: 60_000 },
      { uuid: 'GPU-2', gpuMilli: 1000, memoryMiB: 0, memoryLimitMiB: 0 },
    ],
  },
};

const SAMPLES: readonly FrameBody[] = [
  hello,
  status,
  event,
  { case: 'ack', value: { seq: 0 } },
  { case: 'ack', value: { seq: 9, wantFull: true } },
  {
    case: 'status',
    value: {
      seq: 12,
      atMs: 1_700_000_000_000,
      gpuSamples: [],
      podStates: [],
      delta: { baseSeq: 11, gonePods: ['w-0/p-1'] },
    },
  },
  {
    case: 'welcome',
    value: {
      nodeId: 'node-7',
      heartbeatMs: 2000,
      leaseMs: 40_000,
      desiredPods: [{ podId: 'p1', epoch: 4 }],
      nodeCredential: 'node-secret',
    },
  },
  {
    case: 'welcome',
    value: {
      nodeId: 'n',
      heartbeatMs: 1000,
      leaseMs: 4000,
      desiredPods: [],
      nodeCredential: null,
      fullStatusEvery: 10,
    },
  },
  startPod,
  { case: 'stopPod', value: { podId: 'p1', epoch: 4, reason: 'preempted by team-b/serve', graceSeconds: 0 } },
  { case: 'swap', value: { podId: 'p1', epoch: 4, direction: 'out' } },
  { case: 'swap', value: { podId: 'p1', epoch: 5, direction: 'in' } },
  {
    case: 'logRequest',
    value: { requestId: 'r1', podId: 'p1', epoch: 4, tailLines: 20, follow: true, stream: 'both' },
  },
  {
    case: 'logRequest',
    value: { requestId: 'r2', podId: 'p1', epoch: 4, tailLines: null, follow: false, stream: 'stderr' },
  },
  { case: 'logStop', value: { requestId: 'r1' } },
  {
    case: 'logChunk',
    value: { requestId: 'r1', data: new TextEncoder().encode('step 1 loss 0.5\n'), eof: false, error: null },
  },
  { case: 'logChunk', value: { requestId: 'r1', data: new Uint8Array(0), eof: true, error: 'pod gone' } },
];

function roundTrip(frame: Frame): Frame {
  return value(decodeFrame(encodeFrame(frame)));
}

describe('wire round trip', () => {
  it.each(SAMPLES.map((b) => [b.case, b] as const))('%s survives encode then decode unchanged', (_, body) => {
    const frame = makeFrame(body);
    expect(roundTrip(frame)).toEqual(frame);
  });

  it('covers every body kind and names each as agent or allocator traffic', () => {
    const kinds = new Set(SAMPLES.map((b) => b.case));
    expect([...kinds].sort()).toEqual([...new Set([...AGENT_BODIES, ...ALLOCATOR_BODIES])].sort());
  });

  it('keeps null optionals distinct from zero and empty', () => {
    const frame = roundTrip(makeFrame(status));
    if (frame.body.case !== 'status') throw new Error('wrong body');
    expect(frame.body.value.gpuSamples[0]?.memoryUsedMiB).toBe(0);
    expect(frame.body.value.gpuSamples[1]?.memoryUsedMiB).toBeNull();
  });

  it('decodes from a Buffer, as ws delivers messages', () => {
    const bytes = encodeFrame(makeFrame(event));
    expect(value(decodeFrame(Buffer.from(bytes)))).toEqual(makeFrame(event));
  });

  it('keeps the wire enums in step with the agent types they carry', () => {
    expectTypeOf<WirePodState>().toEqualTypeOf<PodRunState>();
    expectTypeOf<WireMigMode>().toEqualTypeOf<MigMode>();
    expectTypeOf<WireGpuSample>().toEqualTypeOf<GpuSampleRow>();
  });
});

const safeText = (maxLength: number) => fc.string({ maxLength }).filter((s) => !s.includes('\0'));
const safeId = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.includes('\0'));
const mapKey = safeId.filter((s) => s !== '__proto__' && !s.includes('='));
const podState = fc.constantFrom<WirePodState>(
  'starting',
  'running',
  'ready',
  'stopping',
  'exited',
  'lost',
  'swapped-out',
);
const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
const finite = (min: number, max: number) =>
  fc.double({ min, max, noNaN: true }).map((x) => (Object.is(x, -0) ? 0 : x));

const gpuSampleArb: fc.Arbitrary<WireGpuSample> = fc.record({
  uuid: safeId,
  index: fc.integer({ min: 0, max: WIRE_LIMITS.maxGpus - 1 }),
  utilizationPct: nullable(finite(0, 100)),
  memoryUsedMiB: nullable(fc.maxSafeNat()),
  memoryTotalMiB: nullable(fc.maxSafeNat()),
  temperatureC: nullable(finite(-273, 1000)),
  powerDrawW: nullable(finite(0, 1e6)),
});

const podStatusArb: fc.Arbitrary<WirePodStatus> = fc.record({
  podId: safeId,
  epoch: fc.maxSafeNat(),
  state: podState,
  pid: nullable(fc.integer({ min: 1, max: 2 ** 32 - 1 })),
  exitCode: nullable(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
  signal: nullable(safeText(10)),
  reason: nullable(safeText(100)),
  startedAtMs: nullable(fc.maxSafeNat()),
});

const statusArb: fc.Arbitrary<Status> = fc.record({
  seq: fc.maxSafeNat(),
  atMs: fc.maxSafeNat(),
  gpuSamples: fc.array(gpuSampleArb, { maxLength: 8 }),
  podStates: fc.array(podStatusArb, { maxLength: 8 }),
});

const grantArb: fc.Arbitrary<GpuGrant> = fc
  .record({
    uuid: safeId,
    gpuMilli: fc.integer({ min: 0, max: 1000 }),
    memoryMiB: fc.integer({ min: 0, max: 2 ** 40 }),
    extraMiB: fc.integer({ min: 0, max: 2 ** 40 }),
  })
  .map(({ extraMiB, ...g }) => ({ ...g, memoryLimitMiB: g.memoryMiB + extraMiB }));

const interval = (min: number) => fc.integer({ min, max: WIRE_LIMITS.maxIntervalMs });
const probeArb: fc.Arbitrary<WireProbe> = fc
  .record({
    kind: fc.constantFrom('http' as const, 'tcp' as const),
    port: fc.integer({ min: 1, max: 65_535 }),
    path: safeText(30).map((t) => `/${t}`),
    initialDelayMs: interval(0),
    periodMs: interval(1),
    timeoutMs: interval(1),
    failureThreshold: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
  })
  .map((p) => ({ ...p, path: p.kind === 'http' ? p.path : null }));

const startPodArb: fc.Arbitrary<StartPod> = fc.record({
  podId: safeId,
  epoch: fc.maxSafeNat(),
  spec: fc
    .record({
      workload: safeId,
      project: safeId,
      command: fc.array(safeText(30), { minLength: 1, maxLength: 6 }),
      env: fc.dictionary(mapKey, safeText(30), { maxKeys: 6 }),
      networkEnv: fc.dictionary(mapKey, safeText(30), { maxKeys: 6 }),
      workingDir: nullable(safeText(50)),
      priority: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      graceSeconds: fc.integer({ min: 0, max: WIRE_LIMITS.maxGraceSeconds }),
      readiness: nullable(
        fc.record({
          linePrefix: nullable(safeText(10)),
          delayMs: nullable(fc.integer({ min: 0, max: WIRE_LIMITS.maxIntervalMs })),
          probe: nullable(probeArb),
        }),
      ),
      rescheduleAfterMs: nullable(fc.integer({ min: 0, max: MAX_RESCHEDULE_MS })),
      // Pull policy and credential only with an image, as the check demands.
      pull: nullable(
        fc.record({
          image: safeText(60).filter((t) => t !== ''),
          imagePullPolicy: nullable(fc.constantFrom(...PULL_POLICIES)),
          pullCredential: nullable(
            fc.record({ server: safeId, username: safeId, password: safeText(200).filter((t) => t !== '') }),
          ),
        }),
      ),
      runAsUser: nullable(fc.integer({ min: 0, max: MAX_ID })),
      runAsGroup: nullable(fc.integer({ min: 0, max: MAX_ID })),
      mounts: fc.array(
        fc.record({
          hostPath: safeText(40).map((t) => `/${t}`),
          containerPath: safeText(40).map((t) => `/${t}`),
          readOnly: fc.boolean(),
        }),
        { maxLength: 4 },
      ),
      cpuMillis: fc.maxSafeNat(),
      memoryMiB: fc.maxSafeNat(),
    })
    .map(({ pull, ...spec }) => ({
      ...spec,
      image: pull?.image ?? null,
      imagePullPolicy: pull?.imagePullPolicy ?? null,
      pullCredential: pull?.pullCredential ?? null,
    })),
  gpuGrants: fc.array(grantArb, { maxLength: 8 }),
});

describe('wire round trip, any valid frame', () => {
  it('any Status survives encode then decode unchanged', () => {
    fc.assert(
      fc.property(statusArb, (s) => {
        const frame = makeFrame({ case: 'status', value: s });
        expect(roundTrip(frame)).toEqual(frame);
      }),
    );
  });

  it('any StartPod survives encode then decode unchanged', () => {
    fc.assert(
      fc.property(startPodArb, (s) => {
        const frame = makeFrame({ case: 'startPod', value: s });
        expect(roundTrip(frame)).toEqual(frame);
      }),
    );
  });

  it('any Event survives encode then decode unchanged', () => {
    fc.assert(
      fc.property(
        fc.record({
          seq: fc.maxSafeNat(),
          atMs: fc.maxSafeNat(),
          kind: safeId,
          podId: nullable(safeId),
          gpuUuid: nullable(safeId),
          reason: safeText(50),
          numbers: fc.dictionary(mapKey, finite(-1e300, 1e300), { maxKeys: 5 }),
        }),
        (e) => {
          const frame = makeFrame({ case: 'event', value: e });
          expect(roundTrip(frame)).toEqual(frame);
        },
      ),
    );
  });
});

describe('wire decode of hostile bytes', () => {
  it('never throws on arbitrary bytes: every input gives a Result', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => {
        const r = decodeFrame(bytes);
        expect(typeof r.ok).toBe('boolean');
        if (!r.ok) expect(r.error.code).toBe('TESSERA_E_BAD_FRAME');
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on a valid frame with bytes flipped, cut or appended', () => {
    const valid = SAMPLES.map((b) => encodeFrame(makeFrame(b)));
    fc.assert(
      fc.property(
        fc.constantFrom(...valid),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ maxLength: 16 }),
        (bytes, at, byte, tail) => {
          const mutated = Uint8Array.from(bytes);
          mutated[at % mutated.length] = byte;
          for (const candidate of [
            mutated,
            bytes.subarray(0, at % bytes.length),
            Buffer.concat([bytes, tail]),
          ]) {
            const r = decodeFrame(candidate);
            // Whatever decodes must still be within every limit: re-checking it succeeds.
            if (r.ok) expect(checkFrame(r.value).ok).toBe(true);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('refuses every truncation of a frame that cuts a field, without throwing', () => {
    const bytes = encodeFrame(makeFrame(startPod));
    let refused = 0;
    for (let n = 0; n < bytes.length; n++) {
      const r = decodeFrame(bytes.subarray(0, n));
      if (!r.ok) refused++;
    }
    // Most cuts land inside a field; those that land between fields may still make a valid frame.
    expect(refused).toBeGreaterThan(bytes.length / 2);
    expect(failure(decodeFrame(bytes.subarray(0, 5))).message).toMatch(/not a valid tessera.v1.Frame/);
  });

  it('refuses deeply nested unknown groups without exhausting the stack', () => {
    // Field 15, wire type 3 (start group), over and over: a classic decoder recursion bomb.
    const bomb = new Uint8Array(200_000).fill(0x7b);
    const e = failure(decodeFrame(bomb));
    expect(e.code).toBe('TESSERA_E_BAD_FRAME');
    expect(closeCodeOf(e)).toBe(WS_CLOSE.badFrame);
  });

  it('refuses an oversized frame by its size, before decoding it', () => {
    // A well-formed frame padded past the limit with an unknown bytes field: only the size is wrong.
    const big = raw({ version: WIRE_VERSION, ack: { seq: 1 } });
    const pad = protobuf.Writer.create()
      .uint32((15 << 3) | 2)
      .bytes(new Uint8Array(MAX_FRAME_BYTES))
      .finish();
    const bytes = Buffer.concat([big, pad]);
    const e = failure(decodeFrame(bytes));
    expect(e.message).toContain(`${bytes.length} bytes, over the limit of ${MAX_FRAME_BYTES}`);
    expect(closeCodeOf(e)).toBe(WS_CLOSE.tooBig);
    // The same frame within the limit decodes: the unknown field itself is no reason to refuse.
    const smallPad = protobuf.Writer.create()
      .uint32((15 << 3) | 2)
      .bytes(new Uint8Array(1000))
      .finish();
    expect(value(decodeFrame(Buffer.concat([big, smallPad]))).body.case).toBe('ack');
  });

  it('refuses an unknown version with the upgrade close code, naming both versions', () => {
    const e = failure(decodeFrame(raw({ version: 3, ack: { seq: 1 } })));
    expect(e.field).toBe('version');
    expect(e.message).toMatch(/version 3.*only version 2/);
    expect(closeCodeOf(e)).toBe(WS_CLOSE.unsupportedVersion);
  });

  it('refuses a version-1 peer, which would run an image workload unconfined on its host', () => {
    const e = failure(decodeFrame(raw({ version: 1, ack: { seq: 1 } })));
    expect(e.message).toMatch(/version 1.*only version 2: run the same Tessera release/);
    expect(closeCodeOf(e)).toBe(WS_CLOSE.unsupportedVersion);
  });

  it('refuses a frame with no version with the upgrade close code', () => {
    const e = failure(decodeFrame(raw({ ack: { seq: 1 } })));
    expect(e.message).toMatch(/no version/);
    expect(closeCodeOf(e)).toBe(4426);
    expect(closeCodeOf(failure(decodeFrame(new Uint8Array(0))))).toBe(4426);
  });

  it('refuses a frame with no body', () => {
    const e = failure(decodeFrame(raw({ version: WIRE_VERSION })));
    expect(e.field).toBe('body');
    expect(e.message).toMatch(/required/);
    expect(closeCodeOf(e)).toBe(WS_CLOSE.badFrame);
  });

  it('reads a frame carrying two bodies as the last one, as protobuf specifies for a oneof', () => {
    const two = Buffer.concat([
      raw({ version: WIRE_VERSION, ack: { seq: 1 } }),
      raw({ stopPod: { podId: 'p', epoch: 1 } }),
    ]);
    expect(value(decodeFrame(two)).body.case).toBe('stopPod');
  });

  it.each([
    [
      'gpuMilli over one GPU',
      {
        startPod: {
          podId: 'p',
          epoch: 1,
          spec: { workload: 'w', project: 'x', command: ['a'] },
          gpuGrants: [{ uuid: 'G', gpuMilli: 1001, memoryMib: 1, memoryLimitMib: 1 }],
        },
      },
      'startPod.gpuGrants[0].gpuMilli',
    ],
    [
      'memory limit below the share',
      {
        startPod: {
          podId: 'p',
          epoch: 1,
          spec: { workload: 'w', project: 'x', command: ['a'] },
          gpuGrants: [{ uuid: 'G', gpuMilli: 10, memoryMib: 100, memoryLimitMib: 50 }],
        },
      },
      'startPod.gpuGrants[0].memoryLimitMiB',
    ],
    ['epoch past 2^53', { stopPod: { podId: 'p', epoch: 2 ** 60 } }, 'stopPod.epoch'],
    ['a StartPod without spec', { startPod: { podId: 'p', epoch: 1 } }, 'startPod.spec'],
    [
      'a NUL in a command argument',
      { startPod: { podId: 'p', epoch: 1, spec: { workload: 'w', project: 'x', command: ['a\0b'] } } },
      'startPod.spec.command[0]',
    ],
    ['an empty pod id', { stopPod: { podId: '', epoch: 1 } }, 'stopPod.podId'],
    ['an unspecified swap direction', { swap: { podId: 'p', epoch: 1 } }, 'swap.direction'],
    [
      'a pod state this schema does not name',
      { status: { podStates: [{ podId: 'p', state: 99 }] } },
      'status.podStates[0].state: must be one of starting',
    ],
    [
      'an unspecified pod state',
      { status: { podStates: [{ podId: 'p', state: 0 }] } },
      'status.podStates[0].state',
    ],
    [
      'a NaN utilisation',
      { status: { gpuSamples: [{ uuid: 'G', utilizationPct: Number.NaN }] } },
      'utilizationPct',
    ],
    [
      'utilisation over 100',
      { status: { gpuSamples: [{ uuid: 'G', utilizationPct: 250 }] } },
      'utilizationPct',
    ],
    [
      'a lease shorter than the heartbeat',
      { welcome: { nodeId: 'n', heartbeatMs: 2000, leaseMs: 1000 } },
      'leaseMs',
    ],
    ['a zero heartbeat', { welcome: { nodeId: 'n', heartbeatMs: 0, leaseMs: 1000 } }, 'heartbeatMs'],
    ['a Hello without inventory', { hello: { node: 'n' } }, 'hello.inventory'],
    ['a pod id over the length cap', { stopPod: { podId: 'p'.repeat(300), epoch: 1 } }, 'stopPod.podId'],
    [
      'too many GPUs',
      { status: { gpuSamples: Array.from({ length: WIRE_LIMITS.maxGpus + 1 }, () => ({ uuid: 'G' })) } },
      'status.gpuSamples',
    ],
    [
      'too many pods',
      {
        welcome: { nodeId: 'n', heartbeatMs: 1, leaseMs: 2, desiredPods: Array(10_001).fill({ podId: 'p' }) },
      },
      'welcome.desiredPods',
    ],
  ])('refuses %s, naming the field', (_, body, field) => {
    const e = failure(decodeFrame(raw({ version: WIRE_VERSION, ...body })));
    expect(e.code).toBe('TESSERA_E_BAD_FRAME');
    expect(`${e.field} ${e.message}`).toContain(field);
    expect(closeCodeOf(e)).toBe(WS_CLOSE.badFrame);
  });
});

describe('StartPod container fields', () => {
  const withSpec = (spec: Partial<StartPod['spec']>) =>
    makeFrame({
      case: 'startPod',
      value: { ...startPod.value, spec: { ...startPod.value.spec, ...spec } } as StartPod,
    });
  const fieldOf = (spec: Partial<StartPod['spec']>) => failure(checkFrame(withSpec(spec))).field;

  it('carries image, pull policy, credential, user, mounts and limits across the wire', () => {
    const frame = makeFrame(startPod);
    expect(roundTrip(frame)).toEqual(frame);
  });

  it('refuses a pull policy or credential without an image', () => {
    expect(fieldOf({ image: null, pullCredential: null })).toBe('startPod.spec.image');
    expect(fieldOf({ image: null, imagePullPolicy: null })).toBe('startPod.spec.image');
    expect(fieldOf({ image: '' })).toBe('startPod.spec.image');
  });

  it('refuses an empty or oversized password without ever quoting it', () => {
    const cred = { server: 'nvcr.io', username: 'u' };
    expect(fieldOf({ pullCredential: { ...cred, password: '' } })).toBe(
      'startPod.spec.pullCredential.password',
    );
    const long = `hunter2${'x'.repeat(WIRE_LIMITS.maxSecretChars)}`;
    const e = failure(checkFrame(withSpec({ pullCredential: { ...cred, password: long } })));
    expect(e.field).toBe('startPod.spec.pullCredential.password');
    expect(JSON.stringify(e)).not.toContain('hunter2');
    expect(fieldOf({ pullCredential: { ...cred, password: 'p', server: '' } })).toBe(
      'startPod.spec.pullCredential.server',
    );
  });

  it('refuses users above 2^31-1, relative mount paths and too many mounts', () => {
    expect(fieldOf({ runAsUser: 2 ** 31 })).toBe('startPod.spec.runAsUser');
    expect(fieldOf({ runAsGroup: -1 })).toBe('startPod.spec.runAsGroup');
    expect(fieldOf({ mounts: [{ hostPath: 'data', containerPath: '/data', readOnly: true }] })).toBe(
      'startPod.spec.mounts[0].hostPath',
    );
    const many = Array.from({ length: WIRE_LIMITS.maxMounts + 1 }, () => ({
      hostPath: '/d',
      containerPath: '/d',
      readOnly: true,
    }));
    expect(fieldOf({ mounts: many })).toBe('startPod.spec.mounts');
    expect(fieldOf({ cpuMillis: -1 })).toBe('startPod.spec.cpuMillis');
  });

  it('refuses a pull policy number outside the schema when decoding', () => {
    const e = failure(
      decodeFrame(
        raw({
          version: WIRE_VERSION,
          startPod: {
            podId: 'p',
            epoch: 1,
            spec: { workload: 'w', project: 'x', command: ['a'], image: 'i', imagePullPolicy: 9 },
          },
        }),
      ),
    );
    expect(e.field).toBe('startPod.spec.imagePullPolicy');
  });

  it('decodes a spec from an older allocator as a process pod without limits', () => {
    const old = value(
      decodeFrame(
        raw({
          version: WIRE_VERSION,
          startPod: { podId: 'p', epoch: 1, spec: { workload: 'w', project: 'x', command: ['a'] } },
        }),
      ),
    );
    expect(old.body.case === 'startPod' && old.body.value.spec).toMatchObject({
      image: null,
      imagePullPolicy: null,
      pullCredential: null,
      runAsUser: null,
      mounts: [],
      cpuMillis: 0,
      memoryMiB: 0,
    });
  });
});

describe('wire encode', () => {
  it('refuses to send a frame the peer would refuse, naming the field', () => {
    const bad = makeFrame({ case: 'stopPod', value: { podId: 'p', epoch: -1, reason: '', graceSeconds: 0 } });
    expect(() => encodeFrame(bad)).toThrow(/stopPod\.epoch/);
    expect(failure(checkFrame(bad)).field).toBe('stopPod.epoch');
    const fraction = makeFrame({ case: 'ack', value: { seq: 1.5 } });
    expect(failure(checkFrame(fraction)).field).toBe('ack.seq');
    expect(() => encodeFrame({ version: 7, body: { case: 'ack', value: { seq: 1 } } })).toThrow(/version 7/);
  });

  it('refuses a map key that protobufjs would drop on the receiving side', () => {
    const env: Record<string, string> = Object.fromEntries([['__proto__', 'x']]);
    const body = { ...startPod.value, spec: { ...startPod.value.spec, env } } as StartPod;
    expect(failure(checkFrame(makeFrame({ case: 'startPod', value: body }))).message).toMatch(/__proto__/);
  });

  it('refuses to send a frame that encodes over the limit', () => {
    const huge = makeFrame({
      case: 'startPod',
      value: {
        ...startPod.value,
        spec: { ...startPod.value.spec, command: Array(40).fill('x'.repeat(60_000)) },
      },
    });
    expect(checkFrame(huge).ok).toBe(true);
    expect(() => encodeFrame(huge)).toThrow(/over the limit of 1048576/);
  });
});

describe('websocket options', () => {
  it('cap payload at the frame limit, cap fragments and turn compression off', () => {
    expect(WS_OPTIONS.maxPayload).toBe(MAX_FRAME_BYTES);
    expect(WS_OPTIONS.perMessageDeflate).toBe(false);
    expect(WS_OPTIONS.maxFragments).toBeGreaterThan(0);
    expect(WS_OPTIONS.maxBufferedChunks).toBeGreaterThan(0);
  });

  it('make a real ws server close a connection that sends an oversized or over-fragmented message', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...WS_OPTIONS });
    // The link must do the same: ws reports a refused message as an 'error' on the server-side
    // socket (then closes it), and an 'error' without a listener crashes the process.
    const serverErrors: string[] = [];
    wss.on('connection', (sock) => sock.on('error', (e) => serverErrors.push(e.message)));
    await once(wss, 'listening');
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    const closeCode = async (send: (ws: WebSocket) => void): Promise<number> => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      await once(ws, 'open');
      send(ws);
      const [code] = (await once(ws, 'close')) as [number];
      return code;
    };
    try {
      expect(await closeCode((ws) => ws.send(new Uint8Array(MAX_FRAME_BYTES + 1)))).toBe(WS_CLOSE.tooBig);
      const fragmented = await closeCode((ws) => {
        for (let i = 0; i <= WS_OPTIONS.maxFragments; i++) ws.send(new Uint8Array(1), { fin: false });
        ws.send(new Uint8Array(1), { fin: true });
      });
      // 1008 (policy violation) is what ws answers "too many message fragments" with.
      expect(fragmented).toBe(1008);
      expect(serverErrors).toEqual(['Max payload size exceeded', 'Too many message fragments']);
    } finally {
      for (const c of wss.clients) c.terminate();
      wss.close();
    }
  });
});
