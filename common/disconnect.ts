/**
 * What happens to a workload's pods while their node cannot reach the allocator. `keep` (the
 * default): nothing; the agent never stops pods for want of the allocator, and the allocator shows
 * them Unknown and places no replacement until the node returns or an admin declares it dead, so a
 * control-plane outage never kills running work. `reschedule`: after `afterMs` cut off the agent
 * stops them, its fence guard kills them `DISCONNECT_MARGIN_MS / 2` later should the agent be
 * frozen, and the allocator replaces them only after `afterMs + DISCONNECT_MARGIN_MS`: never twice.
 */
import { err, ok, type Result, tesseraError } from './errors.ts';
import { formatDurationMs, parseDurationMs } from './resources.ts';

/** A workload's disconnect policy, normalised. */
export type DisconnectPolicy = { kind: 'keep' } | { kind: 'reschedule'; afterMs: number };

/** The default: pods outlive any allocator outage. */
export const KEEP: DisconnectPolicy = { kind: 'keep' };

/**
 * A node silent this long is lost (the allocator's `--lease`): 40 s. The allocator tells each agent
 * its lease in Welcome; an agent uses this one until then.
 */
export const DEFAULT_LEASE_MS = 40_000;

/** How often agents report (the allocator's `--heartbeat`): 2 s; sent to each agent in Welcome. */
export const DEFAULT_HEARTBEAT_MS = 2_000;

/**
 * How long an agent waits on an open but silent link before it dials the next allocator (a frozen
 * or cut-off leader whose TCP still stands): three heartbeats, or a quarter lease where longer.
 */
export function allocatorSilentMs(heartbeatMs: number, leaseMs: number): number {
  return Math.max(3 * heartbeatMs, Math.floor(leaseMs / 4));
}

/**
 * An agent asks for an Ack (Status.wantAck) once it has heard nothing from the allocator for this
 * long: half its silent limit, or half the shortest time one of its pods may run cut off (`fenceMs`,
 * a `reschedule` pod's), so a quiet link still speaks well before the agent gives up on it or fences
 * a pod, while most Statuses (the link's bulk) cost the allocator no write at all.
 */
export function ackAfterMs(heartbeatMs: number, leaseMs: number, fenceMs: number | null = null): number {
  const silent = allocatorSilentMs(heartbeatMs, leaseMs);
  return Math.floor(Math.min(silent, fenceMs ?? silent) / 2);
}

/**
 * The allocator replaces a `reschedule` pod this long after the agent stopped it: room for the stop
 * itself and for the fence guard, which acts halfway, to kill the pods of a frozen agent.
 */
export const DISCONNECT_MARGIN_MS = 10_000;

/** The shortest `reschedule` duration: several heartbeats, so a healthy but slow link never trips it. */
export const MIN_RESCHEDULE_MS = 10_000;

/** The longest `reschedule` duration: 30 days, well inside the wire's 32-bit milliseconds. */
export const MAX_RESCHEDULE_MS = 30 * 24 * 3_600_000;

/** How a user writes it, for messages. */
export const DISCONNECT_POLICY_HELP =
  "'keep' (the default: pods keep running while their node is cut off from the allocator) or " +
  "'reschedule:DURATION' (e.g. 'reschedule:5m': stopped after that long cut off and placed again elsewhere; 10s to 30 days)";

/** Parses `keep` or `reschedule:DURATION`; the error names `field`. */
export function parseDisconnectPolicy(input: string, field = 'disconnectPolicy'): Result<DisconnectPolicy> {
  const bad = (why: string) =>
    err(
      tesseraError('TESSERA_E_INVALID_SPEC', `${field}: ${why}; accepted: ${DISCONNECT_POLICY_HELP}`, {
        field,
      }),
    );
  const text = input.trim();
  if (text === 'keep') return ok(KEEP);
  const m = /^reschedule\s*[:=]\s*(.+)$/.exec(text);
  if (m === null) return bad(`got ${JSON.stringify(input)}`);
  const d = parseDurationMs(m[1] ?? '', field);
  if (!d.ok) return bad(`${JSON.stringify(m[1])} is not a duration`);
  if (d.value < MIN_RESCHEDULE_MS)
    return bad(`${formatDurationMs(d.value)} is shorter than ${formatDurationMs(MIN_RESCHEDULE_MS)}`);
  if (d.value > MAX_RESCHEDULE_MS)
    return bad(`${formatDurationMs(d.value)} is longer than ${formatDurationMs(MAX_RESCHEDULE_MS)}`);
  return ok({ kind: 'reschedule', afterMs: d.value });
}

/** The policy as a user writes it (`keep`, `reschedule:5m`). */
export function formatDisconnectPolicy(p: DisconnectPolicy): string {
  return p.kind === 'keep' ? 'keep' : `reschedule:${formatDurationMs(p.afterMs)}`;
}

/** How long after its node was last heard from a pod may be replaced; null: never (keep). */
export function replaceAfterMs(p: DisconnectPolicy): number | null {
  return p.kind === 'keep' ? null : p.afterMs + DISCONNECT_MARGIN_MS;
}
