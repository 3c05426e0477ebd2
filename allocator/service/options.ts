/**
 * The allocator's options with every default filled in, once, where it starts (main.ts); the term
 * and the services read the resolved form.
 */
import { DEFAULT_HEARTBEAT_MS, DEFAULT_LEASE_MS } from '../../common/disconnect.ts';
import { createLogger, type Logger } from '../../common/log.ts';
import { type DefaultsOf, type WithDefaults, withDefaults } from '../../common/options.ts';
import { DEFAULT_COLD_START_MS, DEFAULT_STABILISATION_MS } from '../serve/autoscaler.ts';
import { DEFAULT_WINDOW_MS } from '../serve/load-meter.ts';
import type { AllocatorOptions } from './types.ts';

/** Default TCP port of the allocator's API and agent link. */
export const DEFAULT_PORT = 7400;

/** The defaults of `AllocatorOptions`, as its fields document them. */
const ALLOCATOR_DEFAULTS = {
  host: '127.0.0.1',
  port: DEFAULT_PORT,
  leaseMs: DEFAULT_LEASE_MS,
  heartbeatMs: DEFAULT_HEARTBEAT_MS,
  periodicCycleMs: 1000,
  coalesceMs: 50,
  metricsAuth: false,
  allowPublicServing: false,
  coldStartTimeoutMs: DEFAULT_COLD_START_MS,
  autoscaleStabilisationMs: DEFAULT_STABILISATION_MS,
  autoscaleWindowMs: DEFAULT_WINDOW_MS,
  autoscaleTickMs: 1000,
  historyIntervalMs: 60_000,
  historyWindowMs: 24 * 60 * 60_000,
  now: Date.now,
} as const satisfies DefaultsOf<AllocatorOptions>;

/** `AllocatorOptions` complete: every default filled in. */
export type ResolvedAllocatorOptions = WithDefaults<AllocatorOptions, typeof ALLOCATOR_DEFAULTS> & {
  log: Logger;
  leaderLeaseMs: number;
};

/**
 * The leader lease when none is given: a quarter of the node lease, within 1 to 10 s. Short enough
 * that a standby leads within seconds of the leader's death; long enough that a loaded machine's
 * pause between two renewals (a third of it) does not depose a healthy leader.
 */
export function defaultLeaderLeaseMs(nodeLeaseMs: number): number {
  return Math.min(10_000, Math.max(1000, Math.floor(nodeLeaseMs / 4)));
}

/** Fills in every default of `options`: done once, where the allocator starts. */
export function resolveAllocatorOptions(options: AllocatorOptions): ResolvedAllocatorOptions {
  const o = withDefaults(options, ALLOCATOR_DEFAULTS);
  return {
    ...o,
    leaderLeaseMs: options.leaderLeaseMs ?? defaultLeaderLeaseMs(o.leaseMs),
    log: options.log ?? createLogger({ stream: process.stderr, fields: { component: 'allocator' } }),
  };
}
