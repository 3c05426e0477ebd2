/** The agent link's options, counters and handle (server.ts `attachAgentLink`). */
import type { Logger } from '../../common/log.ts';
import type { Event, Frame, Status, WirePodStatus } from '../../common/wire.ts';
import type { TokenStore } from '../identity/tokens.ts';
import type { Db } from '../store/db.ts';
import type { PodRecord } from '../store/pods.ts';
import type { LogAsk, LogSubscription, RoutedLogChunk } from './logs.ts';

/** A node joining, leaving or lost, for the scheduler's change-driven cycles. */
export interface NodeChange {
  node: string;
  change: 'connected' | 'disconnected' | 'lost';
}

/** Why a pod report was refused rather than applied. */
export type RefusedReason = 'unknown-pod' | 'other-node' | 'stale-epoch';

/** Options of `attachAgentLink`. */
export interface AgentLinkOptions {
  db: Db;
  tokens: TokenStore;
  /** A node silent this long is lost. Default DEFAULT_LEASE_MS, 40 s (docs/architecture.md §5). */
  leaseMs?: number;
  /** How often agents send Status. Default DEFAULT_HEARTBEAT_MS, 2 s. */
  heartbeatMs?: number;
  /** How often leases are checked on a timer; 0 turns the timer off (tests call checkLeases). Default heartbeatMs. */
  leaseCheckMs?: number;
  /**
   * Offered in Welcome: agents may send delta Statuses, a full one at least every this many; 0 offers
   * no deltas (every Status full). Default DEFAULT_FULL_STATUS_EVERY (10).
   */
  fullStatusEvery?: number;
  /** A connection that sends no Hello this long is closed (4400). Default 10000 ms. */
  helloTimeoutMs?: number;
  /** Epoch milliseconds; injected so lease tests need no waiting. Default Date.now. */
  now?: () => number;
  onNodeChange?: (change: NodeChange) => void;
  /** A pod report about a pod assigned to this node at this epoch; the lifecycle applies it. */
  onPodReport?: (node: string, report: WirePodStatus, pod: PodRecord) => void;
  /** A whole Status of a node, after its pod reports: what the node runs, for absence checks. */
  onStatus?: (node: string, status: Status) => void;
  /** An Event frame of a node (a GPU OOM kill, an image pulled, a container created). */
  onEvent?: (node: string, event: Event) => void;
  /** After each lease check, with the heard-from times in the store: disconnect policies that ran out. */
  onLeaseCheck?: (nowMs: number) => void;
  log?: Logger;
}

/** Counters for tests, metrics and the benchmark. */
export interface AgentLinkStats {
  connections: number;
  refusedUpgrades: number;
  statusFrames: number;
  acceptedReports: number;
  refusedReports: number;
  /** Reports identical to the pod's previous one on the session, skipped. */
  repeatedReports: number;
  /** Statuses that were deltas, and deltas whose base this session did not have (answered "want full"). */
  deltaFrames: number;
  statusGaps: number;
  closedBadFrame: number;
}

/** Stats of a link that counted nothing yet (or of none: a standby's). */
export function emptyLinkStats(): AgentLinkStats {
  return {
    connections: 0,
    refusedUpgrades: 0,
    statusFrames: 0,
    acceptedReports: 0,
    refusedReports: 0,
    repeatedReports: 0,
    deltaFrames: 0,
    statusGaps: 0,
    closedBadFrame: 0,
  };
}

/** The link as the allocator service drives it. */
export interface AgentLink {
  /** Sends StartPod / StopPod / Swap to a node; false when it has no open session. */
  dispatch(node: string, frame: Frame): boolean;
  /** Marks nodes silent for more than leaseMs as lost, closes their sessions, returns their names. */
  checkLeases(nowMs?: number): string[];
  /**
   * Closes `node`'s session (4401 with `reason`) because the credential it opened with was revoked;
   * false when the node has none.
   */
  disconnect(node: string, reason: string): boolean;
  /** Names of nodes with a session past Hello. */
  connectedNodes(): string[];
  /** Asks `node` for a pod's log (logs.ts); null when the node has no open session. */
  requestLogs(node: string, ask: LogAsk, onChunk: (chunk: RoutedLogChunk) => void): LogSubscription | null;
  stats(): AgentLinkStats;
  /**
   * Stops taking new connections, at once: an ending term's link must not take agents while it winds
   * down, nor answer an upgrade a standby door answers too (ws throws on a socket upgraded twice).
   */
  refuseNew(): void;
  /** Stops accepting, closes every session (1001 going away) and the lease timer. */
  close(): Promise<void>;
}
