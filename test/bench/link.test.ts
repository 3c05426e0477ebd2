import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseLinkArgs, runLinkBench } from '../../bench/link.ts';
import {
  helloBytes,
  padTo,
  patchStatus,
  SEQ_BASE,
  simNode,
  statusTemplate,
} from '../../bench/link-frames.ts';
import { percentile } from '../../bench/link-report.ts';
import { decodeFrame } from '../../common/wire.ts';

const hasAllocator = existsSync(fileURLToPath(new URL('../../allocator/main.ts', import.meta.url)));
const quick = { agents: [50], windowS: 2, warmS: 1, pods: 20, perFleet: 25 };

describe('link benchmark', () => {
  it('takes percentiles by rank and reads its flags', () => {
    expect(percentile([], 99)).toBeNull();
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(
      percentile(
        Array.from({ length: 100 }, (_, i) => i + 1),
        99,
      ),
    ).toBe(99);
    expect(parseLinkArgs(['--only', 'link', '--agents', '1000,5000', '--window-s', '5'])).toEqual({
      agents: [1000, 5000],
      windowS: 5,
    });
  });

  it('sends a real Hello of 8 GPUs and a ~2 KiB Status whose patched seq and atMs decode exactly', () => {
    const n = simNode(7);
    const hello = decodeFrame(helloBytes(n, 'tj.x'));
    expect(
      hello.ok && hello.value.body.case === 'hello' && hello.value.body.value.inventory.gpus.length,
    ).toBe(8);
    padTo(n, 2048);
    const t = statusTemplate(n);
    expect(t.bytes.byteLength).toBeGreaterThanOrEqual(2048);
    expect(t.bytes.byteLength).toBeLessThan(2300);
    for (const [seq, atMs] of [
      [SEQ_BASE, Date.now()],
      [SEQ_BASE * 128 - 1, 2 ** 42 - 1],
    ] as const) {
      const f = decodeFrame(patchStatus(t, seq, atMs, seq === SEQ_BASE));
      const status = f.ok && f.value.body.case === 'status' ? f.value.body.value : null;
      expect(status?.seq).toBe(seq);
      expect(status?.wantAck).toBe(seq === SEQ_BASE);
      expect(status?.atMs).toBe(atMs);
      expect(status?.gpuSamples).toHaveLength(8);
      expect(status?.podStates.length).toBeGreaterThan(5);
    }
    // Between full ones the fleet sends deltas: the samples, no pods, built on the Status before.
    const d = statusTemplate(n, 'delta');
    expect(d.bytes.byteLength).toBeLessThan(t.bytes.byteLength / 2);
    const f = decodeFrame(patchStatus(d, SEQ_BASE + 9, 2 ** 41));
    const delta = f.ok && f.value.body.case === 'status' ? f.value.body.value : null;
    expect(delta).toMatchObject({ seq: SEQ_BASE + 9, atMs: 2 ** 41, podStates: [] });
    expect(delta?.gpuSamples).toHaveLength(8);
    expect(delta?.delta).toEqual({ baseSeq: SEQ_BASE + 8, gonePods: [] });
  });

  it('measures 50 agents in two fleet processes against the bare ws server', async () => {
    const [r] = await runLinkBench({ ...quick, allocator: false });
    expect(r?.joined).toBe(50);
    expect(r?.statusBytes).toBeGreaterThanOrEqual(2048);
    // ~1 status per agent per second over the 2 s window, give or take the window's edges.
    expect(r?.bareFrames).toBeGreaterThan(50);
    expect(r?.bareFrames).toBeLessThanOrEqual(200);
    expect(r?.bareCpuPct).toBeGreaterThan(0);
    expect(r?.bareP99Ms).toBeGreaterThanOrEqual(0);
  }, 20_000);

  it.runIf(hasAllocator)(
    'measures 50 agents against a real allocator: acks, StartPod delivery, CPU and RSS',
    async () => {
      // A short lease: agents ask for an Ack after 1.5 s of quiet, so the window's last Statuses
      // are answered soon after it.
      const [r] = await runLinkBench({ ...quick, bare: false, leaseMs: 4000 });
      expect(r?.joined).toBe(50);
      expect(r?.sent).toBeGreaterThan(50);
      // Every Status answered, by Acks that each cover the earlier ones.
      expect(r?.acked).toBe(r?.sent);
      expect(r?.ackP99Ms).toBeGreaterThanOrEqual(r?.ackP50Ms ?? 0);
      // Handled is read from the allocator a moment before the fleet's own counts: on a loaded
      // machine up to one status per agent is still in flight then (seen: 100 handled of 101 sent).
      expect(r?.statusFramesHandled).toBeGreaterThanOrEqual((r?.sent ?? 0) - (r?.joined ?? 0));
      expect(r?.statusFramesHandled).toBeGreaterThan(0);
      expect(r?.statusP50Ms).toBeGreaterThanOrEqual(0);
      expect(r?.statusP99Ms).toBeGreaterThanOrEqual(r?.statusP50Ms ?? 0);
      expect(r?.startsCommitted).toBe(20);
      expect(r?.startsReceived).toBe(20);
      expect(r?.startP99Ms).toBeGreaterThanOrEqual(0);
      expect(r?.cpuPct).toBeGreaterThan(0);
      expect(r?.rssMiB).toBeGreaterThan(10);
    },
    30_000,
  );
});
