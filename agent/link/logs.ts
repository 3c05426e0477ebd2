/**
 * Serves the allocator's LogRequests from the pod's log files on this node
 * (agent/runner/logs.ts): first the tail (the last `tailLines` lines, or the whole log up to
 * MAX_TAIL_BYTES), then, with `follow`, what the pod writes next, found by polling the files' sizes
 * (a pod writes to its files directly, so there is no write event to hook). A follow ends with eof
 * once the pod has ended and its last output is sent, or silently on LogStop. Output goes out in
 * LogChunks of at most LOG_LIMITS.maxChunkBytes.
 *
 * A follow reads at most FOLLOW_READ_BYTES of each file per poll and skips a poll while the link
 * holds LINK_BACKLOG_BYTES or more unsent: a pod printing faster than the link carries makes the
 * follow fall behind in the file (which keeps everything) rather than grow the agent's memory, and
 * heartbeats on the same link never wait behind more than that.
 */
import { existsSync } from 'node:fs';
import type { Logger } from '../../common/log.ts';
import { withDefaults } from '../../common/options.ts';
import { type FrameBody, LOG_LIMITS, type LogRequest } from '../../common/wire.ts';
import { isEnded, podDirOf } from '../runner/index.ts';
import { fileSize, logPath, readFrom, rotatedPath } from '../runner/logs.ts';
import type { LinkAgent } from './types.ts';

/** A tail never reads more than this much, however many lines it asks for. */
export const MAX_TAIL_BYTES = 8 * 1024 * 1024;

/** Bytes a follow reads from one file per poll: 4 MiB/s per stream at the default 250 ms polls. */
export const FOLLOW_READ_BYTES = 1024 * 1024;

/** A follow skips its poll while the link holds at least this much not yet handed to the network. */
export const LINK_BACKLOG_BYTES = 1024 * 1024;

/** Options of `createLogServer`. */
export interface LogServerOptions {
  agent: Pick<LinkAgent, 'status'>;
  /** Sends a frame body to the allocator; false when the link is down. */
  send(body: FrameBody): boolean;
  log?: Logger;
  /** How often a follow checks the files. Default 250 ms. */
  pollMs?: number;
  /** Bytes the link holds unsent (the websocket's bufferedAmount). Default: always 0. */
  backlogBytes?: () => number;
}

/** The agent's log service, fed by the link's frame switch. */
export interface LogServer {
  onRequest(req: LogRequest): void;
  onStop(requestId: string): void;
  /** Ends every follow without a word (the link closed: the allocator ended them on its side). */
  stopAll(): void;
  /** Follows in progress. */
  active(): number;
}

/** The files a request reads, in the order it sends them. */
function streamsOf(req: LogRequest): ('stdout' | 'stderr')[] {
  return req.stream === 'both' ? ['stdout', 'stderr'] : [req.stream];
}

/** Bytes [max(0, end - want), end) of `path`, reaching into `.1` when the file holds fewer. */
function lastBytes(path: string, end: number, want: number): Buffer {
  const here = readFrom(path, Math.max(0, end - want), Math.min(want, end));
  if (here.length >= want) return here;
  const older = rotatedPath(path, 1);
  if (!existsSync(older)) return here;
  const size = fileSize(older);
  const take = Math.min(size, want - here.length);
  return Buffer.concat([readFrom(older, size - take, take), here]);
}

/** The last `lines` lines of `path` (up to byte `end`), or all of it up to MAX_TAIL_BYTES when null. */
export function tailOf(path: string, end: number, lines: number | null): Buffer {
  if (lines === 0) return Buffer.alloc(0);
  if (lines === null) return lastBytes(path, end, MAX_TAIL_BYTES);
  // Grow the window until it holds enough lines: a tail of 10 lines reads kilobytes, not the file.
  for (let want = Math.max(4096, lines * 128); ; want *= 4) {
    const buf = lastBytes(path, end, Math.min(want, MAX_TAIL_BYTES));
    const complete = buf.length < Math.min(want, MAX_TAIL_BYTES) || want >= MAX_TAIL_BYTES;
    // Back from the end over `lines` newlines (one more when the last line is ended by one).
    let need = buf.at(-1) === 0x0a ? lines + 1 : lines;
    for (let i = buf.length - 1; i >= 0; i--) {
      if (buf[i] === 0x0a && --need === 0) return buf.subarray(i + 1);
    }
    if (complete) return buf;
  }
}

interface Follow {
  req: LogRequest;
  offsets: Map<string, number>;
  /** Per stream, where in the rotated `.1` file the follow still has to read from after a rotation. */
  rotated: Map<string, number>;
  timer: ReturnType<typeof setInterval>;
}

/** Creates the service; it holds timers only while follows run. */
export function createLogServer(options: LogServerOptions): LogServer {
  // The defaults its fields document, filled in once.
  const opts = withDefaults(options, { pollMs: 250, backlogBytes: () => 0 });
  const { pollMs, backlogBytes } = opts;
  const follows = new Map<string, Follow>();

  const sendData = (requestId: string, data: Buffer): boolean => {
    for (let at = 0; at < data.length; at += LOG_LIMITS.maxChunkBytes) {
      const part = data.subarray(at, at + LOG_LIMITS.maxChunkBytes);
      if (!opts.send({ case: 'logChunk', value: { requestId, data: part, eof: false, error: null } }))
        return false;
    }
    return true;
  };
  const finish = (requestId: string, error: string | null): void => {
    opts.send({ case: 'logChunk', value: { requestId, data: new Uint8Array(0), eof: true, error } });
  };

  /** The pod's directory, and whether it has ended (or is unknown to the agent: nothing more will come). */
  const podOf = (req: LogRequest): { dir: string; ended: boolean } => {
    const st = opts.agent.status();
    const pod = st.pods.find((p) => p.podId === req.podId);
    return { dir: podDirOf(st.agent.dataDir, req.podId), ended: pod === undefined || isEnded(pod.state) };
  };

  /**
   * Sends what each file gained since the last look, at most FOLLOW_READ_BYTES of it; a file shorter
   * than before was rotated, and the rest of `.1` goes first. True when a file has more to send.
   */
  const readOn = (f: Follow, dir: string, stream: 'stdout' | 'stderr'): boolean => {
    const path = logPath(dir, stream);
    const size = fileSize(path);
    // Copy-truncate moved the old bytes to `.1` (whole, in the usual case): its rest is read first.
    if (size < (f.offsets.get(stream) ?? 0)) {
      f.rotated.set(stream, f.offsets.get(stream) ?? 0);
      f.offsets.set(stream, 0);
    }
    let budget = FOLLOW_READ_BYTES;
    const olderFrom = f.rotated.get(stream);
    if (olderFrom !== undefined) {
      const older = rotatedPath(path, 1);
      const take = Math.min(budget, Math.max(0, fileSize(older) - olderFrom));
      if (take > 0) sendData(f.req.requestId, readFrom(older, olderFrom, take));
      budget -= take;
      if (olderFrom + take < fileSize(older)) {
        f.rotated.set(stream, olderFrom + take);
        return true;
      }
      f.rotated.delete(stream);
    }
    const start = f.offsets.get(stream) ?? 0;
    const take = Math.min(budget, size - start);
    if (take > 0) {
      sendData(f.req.requestId, readFrom(path, start, take));
      f.offsets.set(stream, start + take);
    }
    return size > start + Math.max(0, take);
  };

  const poll = (f: Follow): void => {
    // A backed-up link: the bytes wait in the file, not in this process.
    if (backlogBytes() >= LINK_BACKLOG_BYTES) return;
    const { dir, ended } = podOf(f.req);
    let behind = false;
    for (const stream of streamsOf(f.req)) behind = readOn(f, dir, stream) || behind;
    // An ended pod's follow ends once everything it wrote has gone out.
    if (ended && !behind) {
      stop(f.req.requestId);
      finish(f.req.requestId, null);
    }
  };

  const stop = (requestId: string): void => {
    const f = follows.get(requestId);
    if (f === undefined) return;
    clearInterval(f.timer);
    follows.delete(requestId);
  };

  return {
    onRequest(req) {
      try {
        const { dir, ended } = podOf(req);
        const streams = streamsOf(req);
        if (!existsSync(dir)) {
          finish(req.requestId, `pod ${req.podId} has no logs on this node`);
          return;
        }
        const offsets = new Map<string, number>();
        // The tail ends where the follow starts, so no byte is sent twice or skipped.
        const parts = streams.map((stream) => {
          const path = logPath(dir, stream);
          const end = fileSize(path);
          offsets.set(stream, end);
          return tailOf(path, end, req.tailLines);
        });
        const tail = Buffer.concat(parts);
        // Always one chunk, even an empty one: it tells the allocator the request was taken.
        if (tail.length > 0) sendData(req.requestId, tail);
        else
          opts.send({
            case: 'logChunk',
            value: { requestId: req.requestId, data: new Uint8Array(0), eof: false, error: null },
          });
        if (!req.follow || ended) {
          finish(req.requestId, null);
          return;
        }
        stop(req.requestId);
        const f: Follow = { req, offsets, rotated: new Map(), timer: setInterval(() => poll(f), pollMs) };
        f.timer.unref();
        follows.set(req.requestId, f);
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        opts.log?.warn('log request failed', { podId: req.podId, error: why });
        stop(req.requestId);
        finish(req.requestId, `reading the log of ${req.podId} failed: ${why}`);
      }
    },
    onStop: stop,
    stopAll() {
      for (const id of [...follows.keys()]) stop(id);
    },
    active: () => follows.size,
  };
}
