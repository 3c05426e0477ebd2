/** The agent link's option defaults (server.ts `attachAgentLink`), resolved once where it is attached. */
import { DEFAULT_HEARTBEAT_MS, DEFAULT_LEASE_MS } from '../../common/disconnect.ts';
import { type DefaultsOf, type WithDefaults, withDefaults } from '../../common/options.ts';
import type { AgentLinkOptions } from './types.ts';

/** Statuses an agent sends between two full ones, when it sends deltas (the Welcome says so). */
export const DEFAULT_FULL_STATUS_EVERY = 10;

/** The defaults of `AgentLinkOptions`, as its fields document them (leaseCheckMs: heartbeatMs). */
const AGENT_LINK_DEFAULTS = {
  leaseMs: DEFAULT_LEASE_MS,
  heartbeatMs: DEFAULT_HEARTBEAT_MS,
  helloTimeoutMs: 10_000,
  fullStatusEvery: DEFAULT_FULL_STATUS_EVERY,
  now: Date.now,
} as const satisfies DefaultsOf<AgentLinkOptions>;

/** `AgentLinkOptions` complete: every default filled in. */
export type ResolvedAgentLinkOptions = WithDefaults<AgentLinkOptions, typeof AGENT_LINK_DEFAULTS> & {
  leaseCheckMs: number;
};

/** Fills in every default of `options`: done once, where the link is attached. */
export function resolveAgentLinkOptions(options: AgentLinkOptions): ResolvedAgentLinkOptions {
  const o = withDefaults(options, AGENT_LINK_DEFAULTS);
  return { ...o, leaseCheckMs: options.leaseCheckMs ?? o.heartbeatMs };
}
