/**
 * Log routing over a real agent link: a fake agent answers LogRequests over a real websocket, and
 * each caller hears only its own chunks, ended by eof, by its cancel (LogStop), by the node's
 * disconnect, or by the answer timeout.
 */
import { describe, expect, it } from 'vitest';
import { createLogRouter } from '../../../allocator/link/logs.ts';
import { type Frame, type FrameBody, type LogChunk, makeFrame } from '../../../common/wire.ts';
import { join, startLink } from './harness.ts';

const text = (chunks: readonly LogChunk[]): string =>
  chunks.map((c) => new TextDecoder().decode(c.data)).join('');

function chunk(requestId: string, data: string, eof = false, error: string | null = null): Frame {
  return makeFrame({
    case: 'logChunk',
    value: { requestId, data: new TextEncoder().encode(data), eof, error },
  });
}

/** Collects a request's chunks; `ended` resolves with them once one has eof. */
function collector(): { chunks: LogChunk[]; onChunk: (c: LogChunk) => void; ended: Promise<LogChunk[]> } {
  const chunks: LogChunk[] = [];
  let done: (c: LogChunk[]) => void = () => {};
  const ended = new Promise<LogChunk[]>((resolve) => {
    done = resolve;
  });
  return {
    chunks,
    onChunk: (c) => {
      chunks.push(c);
      if (c.eof) done(chunks);
    },
    ended,
  };
}

describe('log requests over the agent link', () => {
  it('sends a LogRequest to the node and routes its chunks to the caller until eof', async () => {
    const h = await startLink();
    const { client } = await join(h.url, h.joinToken, 'n1');
    const got = collector();
    const sub = h.link.requestLogs(
      'n1',
      { podId: 'w_p-0', epoch: 3, tailLines: 10, follow: false, stream: 'both' },
      got.onChunk,
    );
    expect(sub).not.toBeNull();
    const req = await client.next();
    if (req.body.case !== 'logRequest') throw new Error(`expected logRequest, got ${req.body.case}`);
    expect(req.body.value).toMatchObject({ podId: 'w_p-0', epoch: 3, tailLines: 10, stream: 'both' });
    const id = req.body.value.requestId;
    client.send(chunk(id, 'line 1\n'));
    client.send(chunk('someone-else', 'not mine\n'));
    client.send(chunk(id, 'line 2\n'));
    client.send(chunk(id, '', true));
    const chunks = await got.ended;
    expect(text(chunks)).toBe('line 1\nline 2\n');
    expect(chunks.at(-1)).toMatchObject({ eof: true, error: null });
  });

  it('sends LogStop when the caller cancels, and drops later chunks', async () => {
    const h = await startLink();
    const { client } = await join(h.url, h.joinToken, 'n1');
    const got = collector();
    const sub = h.link.requestLogs(
      'n1',
      { podId: 'w_p-0', epoch: 1, tailLines: null, follow: true, stream: 'stdout' },
      got.onChunk,
    );
    const req = await client.next();
    if (req.body.case !== 'logRequest') throw new Error('expected logRequest');
    client.send(chunk(req.body.value.requestId, 'hello\n'));
    await expect.poll(() => got.chunks.length).toBe(1);
    sub?.cancel();
    const stop = await client.next();
    expect(stop.body).toEqual({ case: 'logStop', value: { requestId: req.body.value.requestId } });
    expect((await got.ended).at(-1)).toMatchObject({ eof: true, error: null });
    client.send(chunk(req.body.value.requestId, 'too late\n'));
    await new Promise((r) => setTimeout(r, 50));
    expect(text(got.chunks)).toBe('hello\n');
  });

  it('ends every request of a node whose session closes, with an error that says so', async () => {
    const h = await startLink();
    const { client } = await join(h.url, h.joinToken, 'n1');
    const got = collector();
    h.link.requestLogs(
      'n1',
      { podId: 'w_p-0', epoch: 1, tailLines: 0, follow: true, stream: 'both' },
      got.onChunk,
    );
    await client.next();
    client.ws.terminate();
    const chunks = await got.ended;
    expect(chunks.at(-1)?.error).toMatch(/n1 disconnected/);
    expect(chunks.at(-1)).toMatchObject({ eof: true, cause: 'node-gone' });
  });

  it('answers null for a node with no session', async () => {
    const h = await startLink();
    expect(
      h.link.requestLogs(
        'nowhere',
        { podId: 'x_y', epoch: 1, tailLines: null, follow: false, stream: 'both' },
        () => {},
      ),
    ).toBeNull();
  });
});

describe('the log router alone', () => {
  it('gives up on an agent that does not answer within the timeout', async () => {
    const sent: Frame['body'][] = [];
    const router = createLogRouter({
      send: (_n, b) => sent.push(b) > 0,
      answerTimeoutMs: 20,
      newId: () => 'r1',
    });
    const got = collector();
    router.request(
      'n1',
      { podId: 'w_p', epoch: 1, tailLines: null, follow: false, stream: 'both' },
      got.onChunk,
    );
    const chunks = await got.ended;
    expect(chunks[0]?.error).toMatch(/did not answer .* within 20 ms/);
    expect(chunks[0]).toMatchObject({ eof: true, cause: 'no-answer' });
    expect(router.inFlight()).toBe(0);
    expect(sent.map((b) => b.case)).toEqual(['logRequest']);
  });

  it('refuses chunks from a node other than the one asked', () => {
    const router = createLogRouter({ send: () => true, newId: () => 'r1' });
    const got = collector();
    router.request(
      'n1',
      { podId: 'w_p', epoch: 1, tailLines: null, follow: true, stream: 'both' },
      got.onChunk,
    );
    router.onChunk('n2', { requestId: 'r1', data: new Uint8Array([65]), eof: true, error: null });
    expect(got.chunks).toEqual([]);
    expect(router.inFlight()).toBe(1);
    router.close();
    expect(router.inFlight()).toBe(0);
  });

  it('pauses a follow with LogStop and resumes it under the same id from the end of the log', () => {
    const sent: FrameBody[] = [];
    const router = createLogRouter({ send: (_n, b) => sent.push(b) > 0, newId: () => 'r1' });
    const got = collector();
    const sub = router.request(
      'n1',
      { podId: 'w_p-0', epoch: 2, tailLines: 50, follow: true, stream: 'stdout' },
      got.onChunk,
    );
    router.onChunk('n1', { requestId: 'r1', data: new Uint8Array([65]), eof: false, error: null });
    sub?.pause();
    sub?.pause();
    expect(sent.at(-1)).toEqual({ case: 'logStop', value: { requestId: 'r1' } });
    expect(sent).toHaveLength(2);
    // What was in flight when the agent stopped still reaches the caller, which decides what to keep.
    router.onChunk('n1', { requestId: 'r1', data: new Uint8Array([66]), eof: false, error: null });
    expect(got.chunks).toHaveLength(2);
    expect(router.inFlight()).toBe(1);
    sub?.resume();
    sub?.resume();
    // No tail again: the follow goes on from where the log ends now.
    expect(sent.at(-1)).toEqual({
      case: 'logRequest',
      value: { requestId: 'r1', podId: 'w_p-0', epoch: 2, tailLines: 0, follow: true, stream: 'stdout' },
    });
    expect(sent).toHaveLength(3);
    sub?.cancel();
    expect(router.inFlight()).toBe(0);
  });
});
