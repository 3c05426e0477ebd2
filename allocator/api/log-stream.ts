/**
 * A log's chunks into an HTTP response body, bounded for a reader that does not keep up. The agent
 * link carries every node's heartbeats and pod control on one websocket, so a slow HTTP reader must
 * never push back on it; instead, once a follow's response holds LOG_FOLLOW_LIMITS.maxHeldBytes,
 * the agent is paused (LogStop), whatever is still on its way is skipped, and when the reader has
 * taken all but resumeBelowBytes the follow resumes from the end of the log with a line saying how
 * much was skipped. Skipped output is still in the pod's log files on its node.
 *
 * A log read without follow is left alone: it ends by itself, and the agent caps its tail.
 */
import type { ServerResponse } from 'node:http';
import type { PassThrough } from 'node:stream';
import type { LogChunk } from '../../common/wire.ts';
import type { LogSubscription } from '../link/logs.ts';
import { type FollowSlot, LOG_FOLLOW_LIMITS } from './log-follows.ts';

const L = LOG_FOLLOW_LIMITS;

/** Where a log response's chunks go. */
export interface LogWriter {
  /** One chunk from the agent; the one with `eof` ends the body. */
  write(c: LogChunk): void;
  /** The response closed (the reader left, or the body ended): stop looking. */
  close(): void;
}

/** A writer of `sub`'s chunks into `out`, the body of `response`; with a follow `slot`, bounded as above. */
export function logWriter(
  out: PassThrough,
  response: ServerResponse,
  sub: LogSubscription,
  slot: FollowSlot | null,
): LogWriter {
  // Everything this process holds for the reader: the body stream's two buffers and the response's
  // own (which counts the socket's). The kernel's socket buffers are not ours to count.
  const held = (): number => out.writableLength + out.readableLength + response.writableLength;
  let paused = false;
  let skipped = 0;
  let timer: ReturnType<typeof setInterval> | null = null;
  const stopLooking = (): void => {
    if (timer !== null) clearInterval(timer);
    timer = null;
  };
  const note = (): string =>
    `\n[tessera: ${skipped} bytes of output skipped here: this reader fell ${L.maxHeldBytes / 1024 / 1024} MiB behind the pod; they are still in the pod's log on its node]\n`;

  const resumeIfCaughtUp = (): void => {
    const now = held();
    slot?.held(now);
    if (now > L.resumeBelowBytes) return;
    stopLooking();
    paused = false;
    out.write(note());
    skipped = 0;
    sub.resume();
  };

  return {
    write(c) {
      if (c.data.length > 0) {
        if (slot !== null && !paused && held() + c.data.length > L.maxHeldBytes) {
          paused = true;
          slot.paused();
          sub.pause();
          timer = setInterval(resumeIfCaughtUp, L.resumeCheckMs);
          timer.unref();
        }
        if (paused) {
          skipped += c.data.length;
          slot?.skipped(c.data.length);
        } else {
          out.write(Buffer.from(c.data));
        }
      }
      slot?.held(held());
      if (!c.eof) return;
      stopLooking();
      if (skipped > 0) out.write(note());
      if (c.error !== null) out.write(`\n[tessera: the log ended early: ${c.error}]\n`);
      out.end();
    },
    close: stopLooking,
  };
}
