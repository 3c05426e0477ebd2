/** The allocator service's options and handle (allocator/main.ts `startAllocator`). */
import type { Logger } from '../../common/log.ts';
import type { ServerTls } from '../../common/tls-files.ts';
import type { LogFollowStats } from '../api/log-follows.ts';
import type { AgentLinkStats } from '../link/server.ts';
import type { PlannedStart } from '../store/apply-plan.ts';

/** How to run an allocator. Durations in ms. */
export interface AllocatorOptions {
  /** Directory of `tessera.db`, `admin-token`, `join-token`, `allocator.json`; created if missing. */
  dataDir: string;
  /**
   * Interface to listen on. Default `127.0.0.1`: plain HTTP beyond loopback is the caller's explicit
   * choice (`tessera allocator` refuses it without --insecure-http), so the default is the safe one.
   */
  host?: string;
  /** Serve HTTPS and WSS with this certificate and key (common/tls-files.ts). Default plain HTTP. */
  tls?: ServerTls;
  /**
   * A CA file clients on this machine should trust (`tessera up`'s own), recorded in
   * `allocator.json` so the CLI finds it with the URL. Default none.
   */
  caFile?: string;
  /**
   * Where the state lives: a `postgres://` or `postgresql://` URL (several allocators may share it,
   * one leads: docs/architecture.md §11), or `sqlite:` / none for `tessera.db` in `dataDir`. Default none.
   */
  store?: string;
  /**
   * The URL agents and standbys reach this allocator at when it leads (`--advertise-url`); several
   * allocators on several machines each need their own. Default: the URL it listens on.
   */
  advertiseUrl?: string;
  /**
   * How long a leader's lease lasts without renewal (renewed every third of it); a standby takes
   * over this long after the leader stops renewing. Default a quarter of `leaseMs`, within 1 to 10 s.
   */
  leaderLeaseMs?: number;
  /** TCP port; 0 lets the OS choose (the chosen one is in `url` and `allocator.json`). Default 7400. */
  port?: number;
  /** A node silent this long is lost and its pods rescheduled. Default DEFAULT_LEASE_MS, 40 s. */
  leaseMs?: number;
  /** How often agents send Status. Default DEFAULT_HEARTBEAT_MS, 2 s. */
  heartbeatMs?: number;
  /** A scheduling cycle runs at least this often. Default 1000. */
  periodicCycleMs?: number;
  /** A scheduling cycle runs at most this soon after a change. Default 50. */
  coalesceMs?: number;
  /** How often the usage history (console plots, `/history`) takes a sample. Default 60000. */
  historyIntervalMs?: number;
  /** How far back the usage history keeps samples. Default 86400000 (24 h). */
  historyWindowMs?: number;
  /** A join token made outside (e.g. a Helm Secret) that agents may join with; registered at start. */
  joinToken?: string;
  /** `/metrics` needs a user token whose user may read the cluster's nodes. Default false (open). */
  metricsAuth?: boolean;
  /**
   * The base URL clients reach the allocator at, for served workloads' `url` (`BASE/serve/P/W/`).
   * Default: the URL it listens on (allocator.json's `url`).
   */
  externalUrl?: string;
  /** A spec's `public: true` serves its workload without a token. Default false: every caller needs read access. */
  allowPublicServing?: boolean;
  /** Longest a request to a served workload waits for a ready replica (cold start) before a 503. Default 60000. */
  coldStartTimeoutMs?: number;
  /** How long an autoscaler waits at a lower recommendation before scaling down. Default 30000. */
  autoscaleStabilisationMs?: number;
  /** The sliding window the proxy measures requests per second and p95 latency over. Default 10000. */
  autoscaleWindowMs?: number;
  /** How often the autoscalers decide. Default 1000. */
  autoscaleTickMs?: number;
  /** Called with each Status the link has applied and its agent-clock time (the benchmark times receipt, as it does a bare server's). */
  onAgentStatus?: (node: string, atMs: number) => void;
  /** Called after each committed plan with its starts, before they are sent (the benchmark times delivery from here). */
  onPlanCommitted?: (atMs: number, starts: readonly PlannedStart[]) => void;
  /** Default JSON lines on stderr, `component: 'allocator'`. */
  log?: Logger;
  /** Default `Date.now`. */
  now?: () => number;
}

/** Counters of a running allocator, for metrics, tests and the benchmark. */
export interface AllocatorStats {
  link: AgentLinkStats;
  /** Open log follows and what they hold for their readers. */
  logFollows: LogFollowStats;
  cycles: number;
  lastCycleMs: number;
  startsSent: number;
  stopsSent: number;
  startsHeld: number;
  /** Pods failed because their StartPod could not be built or the wire refused it. */
  startsFailed: number;
}

/** An allocator's place among those sharing its database (`GET /healthz`, `tessera allocator`). */
export interface AllocatorRole {
  role: 'standby' | 'leader' | 'stopped';
  /** The lease's epoch while leading, else 0. */
  epoch: number;
  /** The leader's advertised URL (its own while leading), or null while none leads. */
  leaderUrl: string | null;
  /** This allocator's own advertised URL. */
  url: string;
  /** Why it has this role (took the lease, another holds it, fenced, ...). */
  reason: string;
}

/** A running allocator. */
export interface RunningAllocator {
  /** Its role now: a lone allocator on SQLite always leads. */
  role(): AllocatorRole;
  /** `http(s)://host:port` as a client reaches it (127.0.0.1 when listening on every interface). */
  url: string;
  port: number;
  /** The join token file and the admin (user) token file in the data dir, both mode 0600. */
  joinTokenFile: string;
  adminTokenFile: string;
  stats(): AllocatorStats;
  /** Nodes with an open agent session. */
  connectedNodes(): string[];
  /**
   * Serves `tls` to new connections from now on (a renewed certificate); open ones keep theirs.
   * False, and nothing changes, for an allocator serving plain HTTP.
   */
  setTls(tls: ServerTls): boolean;
  /** Runs a scheduling cycle now (tests); resolves when it and its dispatch are done. */
  cycleNow(): Promise<void>;
  /** Stops accepting, closes agent sessions and the HTTP server, closes the store. */
  close(): Promise<void>;
}
