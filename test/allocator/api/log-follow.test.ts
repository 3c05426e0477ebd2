/**
 * Following a log at a reader that does not keep up: the API holds at most
 * LOG_FOLLOW_LIMITS.maxHeldBytes for it, pausing the agent and skipping output past that, and
 * resumes once the reader caught up; and one user may follow only so many logs at once. The agent is
 * a fake LogSource printing as fast as the event loop lets it; the readers are raw sockets, so "does
 * not read" means exactly that.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApi } from '../../../allocator/api/index.ts';
import type { LogSource } from '../../../allocator/api/info-routes.ts';
import { createLogFollows, LOG_FOLLOW_LIMITS, type LogFollows } from '../../../allocator/api/log-follows.ts';
import type { LogChunk } from '../../../common/wire.ts';
import { LOG_LIMITS } from '../../../common/wire.ts';
import { until } from '../../helpers/wait.ts';
import { openTemp, smallOrg, submitBound, training } from '../lifecycle/helpers.ts';

const MiB = 1024 * 1024;
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** What the fake agent did. */
interface AgentLog {
  sentBytes: number;
  pauses: number;
  resumes: number;
  open: number;
}

/**
 * A LogSource that answers every request with 64 KiB chunks of `x`, eight per millisecond, until
 * cancelled; with `honoursPause` false it keeps printing while paused, as a misbehaving agent might.
 */
function fastAgent(honoursPause: boolean): { source: LogSource; log: AgentLog } {
  const log: AgentLog = { sentBytes: 0, pauses: 0, resumes: 0, open: 0 };
  const data = new Uint8Array(LOG_LIMITS.maxChunkBytes).fill(0x78);
  let next = 0;
  const source: LogSource = (_node, _ask, onChunk: (c: LogChunk) => void) => {
    const requestId = `r${next++}`;
    let paused = false;
    log.open += 1;
    const print = (): void => {
      if (paused && honoursPause) return;
      for (let i = 0; i < 8; i++) {
        log.sentBytes += data.byteLength;
        onChunk({ requestId, data, eof: false, error: null });
      }
    };
    setImmediate(print);
    const timer = setInterval(print, 1);
    return {
      requestId,
      cancel() {
        clearInterval(timer);
        log.open -= 1;
      },
      pause() {
        paused = true;
        log.pauses += 1;
      },
      resume() {
        paused = false;
        log.resumes += 1;
      },
    };
  };
  return { source, log };
}

/** An API over a store with training workload `w1` bound on n1, listening on loopback. */
async function apiWith(source: LogSource, follows: LogFollows): Promise<number> {
  const db = openTemp();
  smallOrg(db);
  submitBound(db, 'w1', training('t'), [['n1', 0]]);
  const app = buildApi({ db, info: { logs: source, follows } });
  closers.push(() => app.close());
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A raw HTTP client that sends the GET and then reads only when told; `head` resolves with the status line. */
function rawGet(port: number, path: string): { socket: Socket; head: Promise<string>; text: () => string } {
  const socket = connect(port, '127.0.0.1');
  closers.push(() => {
    socket.destroy();
  });
  let received = '';
  let headed = false;
  const head = new Promise<string>((resolve) => {
    socket.on('data', (b) => {
      received += b.toString('latin1');
      // Stop reading as soon as the headers are in: from here the reader is as slow as can be.
      if (!headed && received.includes('\r\n\r\n')) {
        headed = true;
        socket.pause();
        resolve(received.slice(0, received.indexOf('\r\n')));
      }
    });
  });
  socket.write(`GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`);
  return { socket, head, text: () => received };
}

describe('a log follow at a slow reader', () => {
  it('holds at most maxHeldBytes for a reader that does not read, however much the agent prints', async () => {
    const { source, log } = fastAgent(false);
    const follows = createLogFollows();
    const port = await apiWith(source, follows);
    const r = rawGet(port, '/api/v1/workloads/w1/logs?follow=true');
    expect(await r.head).toBe('HTTP/1.1 200 OK');
    // Far more than the bound and than what loopback's socket buffers can absorb.
    await until(() => log.sentBytes > 96 * MiB, 'the agent to print 96 MiB', 20_000);
    const s = follows.stats();
    expect(s.open).toBe(1);
    expect(s.peakHeldBytes).toBeGreaterThan(0);
    expect(s.peakHeldBytes).toBeLessThanOrEqual(LOG_FOLLOW_LIMITS.maxHeldBytes);
    expect(s.heldBytes).toBeLessThanOrEqual(LOG_FOLLOW_LIMITS.maxHeldBytes);
    expect(s.skippedBytes).toBeGreaterThan(0);
    expect(log.pauses).toBe(1);
  });

  it('pauses the agent, and resumes it with a note of what was skipped once the reader catches up', async () => {
    const { source, log } = fastAgent(true);
    const follows = createLogFollows();
    const port = await apiWith(source, follows);
    const r = rawGet(port, '/api/v1/workloads/w1/logs?follow=true');
    await r.head;
    await until(() => log.pauses === 1, 'the follow to pause', 20_000);
    const printed = log.sentBytes;
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Paused means paused: an agent that honours it prints nothing more.
    expect(log.sentBytes).toBe(printed);
    r.socket.resume();
    await until(() => log.resumes >= 1, 'the follow to resume', 20_000);
    await until(() => r.text().includes('bytes of output skipped here'), 'the skip note', 20_000);
    expect(follows.stats().peakHeldBytes).toBeLessThanOrEqual(LOG_FOLLOW_LIMITS.maxHeldBytes);
  });

  it('refuses a fifth follow of one user with 429 saying how many are open, and frees a slot on close', async () => {
    const { source, log } = fastAgent(true);
    const follows = createLogFollows();
    const port = await apiWith(source, follows);
    const open = Array.from({ length: LOG_FOLLOW_LIMITS.maxFollowsPerUser }, () =>
      rawGet(port, '/api/v1/workloads/w1/logs?follow=true'),
    );
    for (const r of open) expect(await r.head).toBe('HTTP/1.1 200 OK');
    const fifth = await fetch(`http://127.0.0.1:${port}/api/v1/workloads/w1/logs?follow=true`);
    expect(fifth.status).toBe(429);
    const e = ((await fifth.json()) as { error: { code: string; message: string } }).error;
    expect(e.code).toBe('TESSERA_E_TOO_MANY_STREAMS');
    expect(e.message).toContain(`${LOG_FOLLOW_LIMITS.maxFollowsPerUser} log follows open`);
    expect(e.message).toContain('Ctrl-C');
    // A log read without follow is not counted.
    expect(follows.stats().open).toBe(4);
    open[0]?.socket.destroy();
    await until(() => follows.stats().open === 3, 'the slot to be freed', 20_000);
    await until(() => log.open === 3, 'the agent follow to be cancelled', 20_000);
    const again = rawGet(port, '/api/v1/workloads/w1/logs?follow=true');
    expect(await again.head).toBe('HTTP/1.1 200 OK');
  });
});
