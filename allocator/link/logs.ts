/**
 * Routing of pod logs over the agent link: a caller (the logs route) asks a node for a
 * pod's log; the request goes out as a LogRequest tagged with a fresh request id, and each LogChunk
 * the agent sends back is handed to that caller's `onChunk`. A request ends on the agent's eof, on
 * the caller's cancel (a LogStop goes out), when its node's session closes, or when the agent does
 * not answer within `answerTimeoutMs`; in each case `onChunk` hears a last chunk with `eof` set, and
 * a request the router ended itself says why in the chunk's `cause`.
 */
import { randomUUID } from 'node:crypto';
import { withDefaults } from '../../common/options.ts';
import type { FrameBody, LogChunk, LogRequest } from '../../common/wire.ts';

/** What a caller asks for: a LogRequest without the id, which the router assigns. */
export type LogAsk = Omit<LogRequest, 'requestId'>;

/** Why the router, not the agent, ended a request: its node went away, never answered, or the allocator stops. */
export type LogEndCause = 'node-gone' | 'no-answer' | 'shutdown';

/** A chunk as the caller hears it: the agent's own, or the router's last one with its cause. */
export type RoutedLogChunk = LogChunk & { cause?: LogEndCause };

/** A request in flight; `cancel` sends LogStop and ends it (idempotent). */
export interface LogSubscription {
  readonly requestId: string;
  cancel(): void;
  /** Stops the agent sending (LogStop) but keeps the request; chunks already on their way still arrive. */
  pause(): void;
  /** Asks the agent again, under the same id, to follow on from the end of the log (no tail). */
  resume(): void;
}

/** Options of `createLogRouter`. */
export interface LogRouterOptions {
  /** Sends a frame body to a node; false when the node has no open session. */
  send(node: string, body: FrameBody): boolean;
  /** An agent that sends no chunk this long after the request is given up on. Default 10000 ms. */
  answerTimeoutMs?: number;
  /** Request ids; default random UUIDs. */
  newId?: () => string;
}

/** The router the link's server feeds with LogChunks and session ends. */
export interface LogRouter {
  /** Sends the request to `node`; null when the node has no open session. */
  request(node: string, ask: LogAsk, onChunk: (chunk: RoutedLogChunk) => void): LogSubscription | null;
  /** A LogChunk from `node`; chunks for unknown ids (or from another node) are dropped. */
  onChunk(node: string, chunk: LogChunk): void;
  /** `node`'s session closed: every request to it ends with an error. */
  nodeGone(node: string): void;
  /** Requests in flight, for tests and metrics. */
  inFlight(): number;
  /** Ends every request (the allocator is stopping). */
  close(): void;
}

interface Pending {
  node: string;
  onChunk: (chunk: RoutedLogChunk) => void;
  timer: ReturnType<typeof setTimeout> | null;
  paused: boolean;
}

const EMPTY = new Uint8Array(0);

/** Creates an empty router. */
export function createLogRouter(given: LogRouterOptions): LogRouter {
  // The defaults its fields document, filled in once.
  const options = withDefaults(given, { answerTimeoutMs: 10_000, newId: randomUUID });
  const { answerTimeoutMs, newId } = options;
  const pending = new Map<string, Pending>();

  /** Removes the request and tells its caller it ended, with `error` when it failed. */
  const end = (requestId: string, error: string | null, cause?: LogEndCause): void => {
    const p = pending.get(requestId);
    if (p === undefined) return;
    pending.delete(requestId);
    if (p.timer !== null) clearTimeout(p.timer);
    p.onChunk(
      cause === undefined
        ? { requestId, data: EMPTY, eof: true, error }
        : { requestId, data: EMPTY, eof: true, error, cause },
    );
  };

  return {
    request(node, ask, onChunk) {
      const requestId = newId();
      const p: Pending = { node, onChunk, timer: null, paused: false };
      pending.set(requestId, p);
      /** Sends the request and gives the agent answerTimeoutMs to answer it. */
      const sendRequest = (value: LogRequest): boolean => {
        if (!options.send(node, { case: 'logRequest', value })) return false;
        if (p.timer !== null) clearTimeout(p.timer);
        p.timer = setTimeout(
          () =>
            end(
              requestId,
              `node ${node} did not answer the log request within ${answerTimeoutMs} ms`,
              'no-answer',
            ),
          answerTimeoutMs,
        );
        p.timer.unref();
        return true;
      };
      if (!sendRequest({ ...ask, requestId })) {
        pending.delete(requestId);
        return null;
      }
      return {
        requestId,
        cancel() {
          if (!pending.has(requestId)) return;
          options.send(node, { case: 'logStop', value: { requestId } });
          end(requestId, null);
        },
        pause() {
          if (!pending.has(requestId) || p.paused) return;
          p.paused = true;
          options.send(node, { case: 'logStop', value: { requestId } });
        },
        resume() {
          if (!pending.has(requestId) || !p.paused) return;
          p.paused = false;
          if (!sendRequest({ ...ask, requestId, tailLines: 0 }))
            end(requestId, `node ${node} disconnected while the follow was paused`, 'node-gone');
        },
      };
    },
    onChunk(node, chunk) {
      const p = pending.get(chunk.requestId);
      // Only the node asked may answer: another node's chunk for a guessed id is dropped.
      if (p === undefined || p.node !== node) return;
      // Answered: from here a follow may stay quiet as long as the pod prints nothing.
      if (p.timer !== null) clearTimeout(p.timer);
      p.timer = null;
      if (chunk.eof) {
        pending.delete(chunk.requestId);
        p.onChunk(chunk);
        return;
      }
      p.onChunk(chunk);
    },
    nodeGone(node) {
      for (const [id, p] of [...pending])
        if (p.node === node) end(id, `node ${node} disconnected`, 'node-gone');
    },
    inFlight: () => pending.size,
    close() {
      for (const id of [...pending.keys()]) end(id, 'allocator shutting down', 'shutdown');
    },
  };
}
