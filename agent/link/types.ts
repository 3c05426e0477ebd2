/**
 * The link's seams, which its parts (client, apply, logs, self-fence, guard-file) share: what it needs
 * of the agent and of time, and what it tells the fence guard. Here rather than in client.ts so the
 * parts client.ts composes do not import it back.
 */
import type { AgentApi, AgentEvent } from '../api.ts';

/** What the link needs of the agent: its API plus the event subscription (agent.ts `Agent`). */
export type LinkAgent = Pick<AgentApi, 'startPod' | 'stopPod' | 'swap' | 'status'> & {
  subscribe(fn: (e: AgentEvent) => void): () => void;
};

/** Runs `fn` once after `ms`; returns the cancel. Injected so tests can drive time. */
export type SetTimer = (fn: () => void, ms: number) => () => void;

/** The link's clock as the fence guard needs it (guard-file.ts); all in ms. */
export interface LinkClock {
  lastHeardMs: number;
  /** The allocator replaces a fenced pod this long after the agent's own stop; the guard acts halfway. */
  marginMs: number;
  heartbeatMs: number;
}

/** Told when the allocator is heard from (and at start), and when the link stops cleanly. */
export interface LinkGuard {
  heard(clock: LinkClock): void;
  stopped(): void;
}
