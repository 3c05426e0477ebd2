/**
 * The agent's log service on real files: the tail of a pod's stdout / stderr, then a follow that
 * picks up what the pod writes next (also across a copy-truncate rotation), ending with eof once the
 * pod has ended, or silently on LogStop.
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../../agent/api.ts';
import { createLogServer, FOLLOW_READ_BYTES, tailOf } from '../../../agent/link/logs.ts';
import { podDirOf } from '../../../agent/runner/index.ts';
import { logPath, rotateCopyTruncate } from '../../../agent/runner/logs.ts';
import type { FrameBody, LogChunk, LogRequest } from '../../../common/wire.ts';

let dataDir: string;
let state: 'running' | 'exited';

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'tessera-logs-'));
  state = 'running';
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

/** A LinkAgent status with just what the log service reads. */
function fakeAgent(podId: string): { status(): AgentStatus } {
  return {
    status: () => ({ agent: { dataDir }, pods: [{ podId, epoch: 1, state }] }) as unknown as AgentStatus,
  };
}

function podFiles(podId: string): { out: string; err: string } {
  const dir = podDirOf(dataDir, podId);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  return { out: logPath(dir, 'stdout'), err: logPath(dir, 'stderr') };
}

function serve(podId: string, backlogBytes?: () => number) {
  const chunks: LogChunk[] = [];
  const server = createLogServer({
    agent: fakeAgent(podId),
    send: (b: FrameBody) => {
      if (b.case === 'logChunk') chunks.push(b.value);
      return true;
    },
    pollMs: 10,
    ...(backlogBytes === undefined ? {} : { backlogBytes }),
  });
  const text = (): string => chunks.map((c) => Buffer.from(c.data).toString('utf8')).join('');
  return { server, chunks, text };
}

const ask = (over: Partial<LogRequest>): LogRequest => ({
  requestId: 'r1',
  podId: 'w_p-0',
  epoch: 1,
  tailLines: null,
  follow: false,
  stream: 'both',
  ...over,
});

describe('tail of a log file', () => {
  it('keeps the last n lines, with or without a final newline', () => {
    const { out } = podFiles('t');
    writeFileSync(out, 'a\nb\nc\n');
    expect(tailOf(out, 6, 2).toString()).toBe('b\nc\n');
    expect(tailOf(out, 6, 10).toString()).toBe('a\nb\nc\n');
    expect(tailOf(out, 6, 0).toString()).toBe('');
    writeFileSync(out, 'a\nb\nc');
    expect(tailOf(out, 5, 2).toString()).toBe('b\nc');
  });

  it('reaches into the rotated file when the current one holds too few lines', () => {
    const { out } = podFiles('t');
    writeFileSync(`${out}.1`, 'old 1\nold 2\n');
    writeFileSync(out, 'new 1\n');
    expect(tailOf(out, 6, 2).toString()).toBe('old 2\nnew 1\n');
  });
});

describe('the agent log service', () => {
  it('sends the tail of stdout then stderr, then eof', () => {
    const { out, err } = podFiles('w_p-0');
    writeFileSync(out, Array.from({ length: 50 }, (_, i) => `out ${i}\n`).join(''));
    writeFileSync(err, 'err 0\nerr 1\n');
    const s = serve('w_p-0');
    s.server.onRequest(ask({ tailLines: 2 }));
    expect(s.text()).toBe('out 48\nout 49\nerr 0\nerr 1\n');
    expect(s.chunks.at(-1)).toMatchObject({ eof: true, error: null });
    expect(s.server.active()).toBe(0);
  });

  it('splits a large log into chunks of at most 64 KiB', () => {
    const { out } = podFiles('w_p-0');
    writeFileSync(out, 'x'.repeat(200_000));
    const s = serve('w_p-0');
    s.server.onRequest(ask({ stream: 'stdout' }));
    expect(s.text().length).toBe(200_000);
    expect(Math.max(...s.chunks.map((c) => c.data.length))).toBeLessThanOrEqual(64 * 1024);
  });

  it('answers an error for a pod with no logs on this node', () => {
    const s = serve('w_p-0');
    s.server.onRequest(ask({ podId: 'nope_p-0' }));
    expect(s.chunks).toEqual([
      expect.objectContaining({ eof: true, error: expect.stringMatching(/no logs/) }),
    ]);
  });

  it('follows new output, across a rotation, until the pod ends', async () => {
    const { out } = podFiles('w_p-0');
    writeFileSync(out, 'first\n');
    const s = serve('w_p-0');
    s.server.onRequest(ask({ follow: true, tailLines: 1, stream: 'stdout' }));
    expect(s.text()).toBe('first\n');
    expect(s.server.active()).toBe(1);
    appendFileSync(out, 'second\n');
    await expect.poll(s.text).toBe('first\nsecond\n');
    appendFileSync(out, 'third\n');
    // Over the cap but under twice it: the whole old file goes to .1 (logs.ts rotateCopyTruncate).
    rotateCopyTruncate(out, { maxBytes: 15, maxFiles: 2 });
    appendFileSync(out, 'fourth\n');
    await expect.poll(s.text).toBe('first\nsecond\nthird\nfourth\n');
    appendFileSync(out, 'last words\n');
    state = 'exited';
    await expect.poll(() => s.chunks.at(-1)?.eof).toBe(true);
    expect(s.text()).toBe('first\nsecond\nthird\nfourth\nlast words\n');
    expect(s.server.active()).toBe(0);
  });

  it('stops a follow on LogStop without sending anything more', async () => {
    const { out } = podFiles('w_p-0');
    writeFileSync(out, '');
    const s = serve('w_p-0');
    s.server.onRequest(ask({ follow: true, tailLines: 0 }));
    // The first (empty) chunk says the request was taken.
    expect(s.chunks).toEqual([expect.objectContaining({ eof: false, data: new Uint8Array(0) })]);
    s.server.onStop('r1');
    appendFileSync(out, 'unheard\n');
    await new Promise((r) => setTimeout(r, 50));
    expect(s.chunks).toHaveLength(1);
    expect(s.server.active()).toBe(0);
  });

  it('reads a burst a bounded slice per poll and waits while the link is backed up, losing nothing', async () => {
    const { out } = podFiles('w_p-0');
    writeFileSync(out, '');
    // A link that takes nothing until told: what was sent stays in its backlog.
    let drained = 0;
    const sent = (): number => s.chunks.reduce((a, c) => a + c.data.length, 0);
    const s = serve('w_p-0', () => sent() - drained);
    s.server.onRequest(ask({ follow: true, tailLines: 0, stream: 'stdout' }));
    const burst = Array.from({ length: 5 * 1024 }, (_, i) => `${String(i).padStart(1023, '.')}\n`).join('');
    appendFileSync(out, burst);
    await expect.poll(sent).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 100));
    // One slice went out, then nothing while it sat unsent.
    expect(sent()).toBe(FOLLOW_READ_BYTES);
    for (let i = 0; i < 20 && sent() < burst.length; i++) {
      drained = sent();
      await expect.poll(sent).toBeGreaterThan(drained);
    }
    expect(s.text()).toBe(burst);
    s.server.stopAll();
  });
});
