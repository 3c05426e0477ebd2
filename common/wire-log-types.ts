/**
 * The log messages of the wire: the allocator asks an agent for a pod's log
 * (`LogRequest`, cancelled by `LogStop`), the agent answers with `LogChunk`s tagged by request id.
 * Kept apart from wire-types.ts only to keep files short; import through `common/wire.ts`.
 */

/** Caps on the log messages. */
export const LOG_LIMITS = {
  /** Bytes of one LogChunk's data: frames stay small so heartbeats are never stuck behind a log. */
  maxChunkBytes: 64 * 1024,
  /** Lines a tail may ask for. */
  maxTailLines: 1_000_000,
} as const;

/** Which of a pod's output files to read. */
export type WireLogStream = 'stdout' | 'stderr' | 'both';

/** allocator -> agent: send pod `podId`'s log in LogChunks tagged `requestId`. */
export interface LogRequest {
  requestId: string;
  podId: string;
  epoch: number;
  /** null: the whole log (capped by the agent); n: the last n lines only (0: none). */
  tailLines: number | null;
  /** Keep sending new output until LogStop, or eof once the pod has ended. */
  follow: boolean;
  stream: WireLogStream;
}

/** allocator -> agent: stop sending request `requestId`. */
export interface LogStop {
  requestId: string;
}

/** agent -> allocator: a piece of a requested log; `eof` ends the request, `error` says why it failed. */
export interface LogChunk {
  requestId: string;
  /** At most LOG_LIMITS.maxChunkBytes. */
  data: Uint8Array;
  eof: boolean;
  error: string | null;
}
