/**
 * The spec validator refuses at submit everything the wire would refuse at dispatch: a spec that
 * passes `parseWorkloadSpec` always becomes a StartPod that `encodeFrame` accepts. Each cap is
 * tried one over its limit (refused, naming the field) and at its limit (accepted).
 */
import { describe, expect, it } from 'vitest';
import { podSpecOf } from '../../allocator/service/dispatch.ts';
import type { WorkloadRecord } from '../../allocator/store/workloads.ts';
import { encodeFrame, MAX_FRAME_BYTES, makeFrame, WIRE_LIMITS } from '../../common/wire.ts';
import { MAX_SPEC_BYTES, parseWorkloadSpec, type WorkloadSpec } from '../../common/workload.ts';
import { failure, value } from '../result.ts';

const L = WIRE_LIMITS;
const base = { name: 'resnet', project: 'vision', type: 'training', command: ['python', 'train.py'] };

function refused(extra: Record<string, unknown>): { field: string | undefined; message: string } {
  const e = failure(parseWorkloadSpec({ ...base, ...extra }));
  expect(e.code).toBe('TESSERA_E_INVALID_SPEC');
  return { field: e.field, message: e.message };
}

function accepted(extra: Record<string, unknown>): WorkloadSpec {
  return value(parseWorkloadSpec({ ...base, ...extra }));
}

/** The StartPod a spec becomes, encoded as the dispatcher would send it. */
function encodeStartPod(spec: WorkloadSpec): Uint8Array {
  const w: WorkloadRecord = {
    id: 'w1',
    name: spec.name,
    project: spec.project,
    type: spec.type,
    spec,
    phase: 'Initializing',
    phaseReason: '',
    createdMs: 0,
    nextPodOrdinal: 1,
    belowMinSinceMs: null,
    restarts: 0,
  };
  return encodeFrame(
    makeFrame({
      case: 'startPod',
      value: {
        podId: 'w1_resnet-0',
        epoch: 1,
        spec: podSpecOf(w),
        gpuGrants: [{ uuid: 'GPU-1', gpuMilli: 1000, memoryMiB: 81_920, memoryLimitMiB: 81_920 }],
      },
    }),
  );
}

describe('spec caps follow the wire', () => {
  it('a command argument longer than the wire carries is refused, naming its index', () => {
    const r = refused({ command: ['python', 'a', 'b', 'x'.repeat(L.maxArgChars + 1)] });
    expect(r.field).toBe('command.3');
    expect(r.message).toMatch(/^command\.3: longer than 65536 characters/);
    expect(accepted({ command: ['python', 'x'.repeat(L.maxArgChars)] }).command[1]).toHaveLength(
      L.maxArgChars,
    );
  });

  it('more command arguments than the wire carries is refused, naming the count and the limit', () => {
    const r = refused({ command: Array.from({ length: L.maxCommandArgs + 1 }, () => 'a') });
    expect(r.field).toBe('command');
    expect(r.message).toContain(`has ${L.maxCommandArgs + 1} items, over the limit of ${L.maxCommandArgs}`);
    expect(accepted({ command: Array.from({ length: L.maxCommandArgs }, () => 'a') }).command).toHaveLength(
      L.maxCommandArgs,
    );
  });

  it('a NUL character in a command argument is refused', () => {
    const r = refused({ command: ['python', 'a\0b'] });
    expect(r.field).toBe('command.1');
    expect(r.message).toContain('NUL');
  });

  it('an env value longer than the wire carries is refused, naming the variable', () => {
    const r = refused({ env: { BIG: 'x'.repeat(L.maxArgChars + 1) } });
    expect(r.field).toBe('env.BIG');
    expect(r.message).toContain(`longer than ${L.maxArgChars} characters`);
    expect(accepted({ env: { BIG: 'x'.repeat(L.maxArgChars) } }).env.BIG).toHaveLength(L.maxArgChars);
  });

  it('a NUL character in an env value is refused', () => {
    const r = refused({ env: { A: 'x\0' } });
    expect(r.field).toBe('env.A');
    expect(r.message).toContain('NUL');
  });

  it('an env variable name longer than the wire carries is refused', () => {
    const name = `A${'b'.repeat(L.maxIdChars)}`;
    const r = refused({ env: { [name]: '1' } });
    expect(r.field).toBe(`env.${name}`);
    expect(r.message).toContain(`longer than ${L.maxIdChars} characters`);
    const ok = `A${'b'.repeat(L.maxIdChars - 1)}`;
    expect(Object.keys(accepted({ env: { [ok]: '1' } }).env)).toEqual([ok]);
  });

  it('more env entries than the wire carries is refused, naming the count and the limit', () => {
    const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`V${i}`, '1']));
    const r = refused({ env: many(L.maxEnvEntries + 1) });
    expect(r.field).toBe('env');
    expect(r.message).toContain(`has ${L.maxEnvEntries + 1} entries, over the limit of ${L.maxEnvEntries}`);
    expect(Object.keys(accepted({ env: many(L.maxEnvEntries) }).env)).toHaveLength(L.maxEnvEntries);
  });

  it('an env variable named __proto__ is refused rather than silently dropped', () => {
    const r = refused({ env: JSON.parse('{"__proto__": "x", "A": "1"}') as Record<string, string> });
    expect(r.field).toBe('env.__proto__');
  });

  it('a project name longer than an identifier on the wire, or with a NUL, is refused', () => {
    expect(refused({ project: 'p'.repeat(L.maxIdChars + 1) }).field).toBe('project');
    expect(refused({ project: 'vi\0sion' }).field).toBe('project');
    expect(accepted({ project: 'p'.repeat(L.maxIdChars) }).project).toHaveLength(L.maxIdChars);
  });

  it('node pool, node type and GPU model names are identifiers: capped and without NUL', () => {
    expect(refused({ nodePools: ['default', 'p'.repeat(L.maxIdChars + 1)] }).field).toBe('nodePools.1');
    expect(refused({ nodeTypes: ['a\0'] }).field).toBe('nodeTypes.0');
    expect(refused({ gpuModels: ['m'.repeat(L.maxIdChars + 1)] }).field).toBe('gpuModels.0');
  });

  it('a spec over MAX_SPEC_BYTES of JSON is refused as a whole, naming the size and the limit', () => {
    // Every argument within its own cap: only the total is too large.
    const args = Array.from({ length: 5 }, () => 'x'.repeat(60_000));
    const e = failure(parseWorkloadSpec({ ...base, command: ['python', ...args] }));
    expect(e.code).toBe('TESSERA_E_INVALID_SPEC');
    expect(e.field).toBeUndefined();
    expect(e.message).toMatch(/^workload spec: \d+ bytes as JSON, over the limit of 262144/);
  });

  it('a multi-byte argument counts its UTF-8 bytes against the total', () => {
    // 60,000 UTF-16 units (the wire's characters) but 120,000 UTF-8 bytes each: three are 360 KB.
    const wide = '😀'.repeat(30_000);
    expect(wide.length).toBe(60_000);
    expect(failure(parseWorkloadSpec({ ...base, command: ['python', wide, wide, wide] })).message).toMatch(
      /^workload spec: \d+ bytes as JSON/,
    );
  });

  it('the spec cap leaves room for the rest of a StartPod under the frame limit', () => {
    expect(MAX_SPEC_BYTES * 2).toBeLessThanOrEqual(MAX_FRAME_BYTES);
  });

  it('a spec just under every cap at once still encodes as a StartPod', () => {
    // As much as the total allows, spread over arguments and env values at their own caps.
    const arg = 'a'.repeat(L.maxArgChars);
    const s = accepted({
      command: ['python', arg, arg],
      env: { A: arg, B: 'b'.repeat(L.maxArgChars - 2048) },
      project: 'p'.repeat(L.maxIdChars),
    });
    expect(Buffer.byteLength(JSON.stringify(s))).toBeGreaterThan(MAX_SPEC_BYTES - 4096);
    expect(encodeStartPod(s).byteLength).toBeLessThan(MAX_FRAME_BYTES);
  });
});
