/**
 * The link's options (`createLink`): each documented with its default where it is declared, and
 * `resolveLinkOptions`, which fills them in once where the link is created.
 */
import WebSocket from 'ws';
import { DEFAULT_HEARTBEAT_MS, DEFAULT_LEASE_MS, DISCONNECT_MARGIN_MS } from '../../common/disconnect.ts';
import { createLogger, type Logger } from '../../common/log.ts';
import { type DefaultsOf, type WithDefaults, withDefaults } from '../../common/options.ts';
import type { TrustedCa } from '../../common/tls-files.ts';
import type { NodeNetwork } from '../../common/wire.ts';
import { RECONNECT_BACKOFF, type ReconnectBackoff } from './backoff.ts';
import type { CredentialKeeper } from './credential-file.ts';
import type { LinkAgent, LinkGuard, SetTimer } from './types.ts';

/** Options of `createLink`; durations in ms, defaults per field. */
export interface LinkOptions {
  /** `ws://host:port/api/v1/agents/connect`. */
  url: string;
  /**
   * More allocators sharing `url`'s database (standbys), dialled in turn when a dial fails (targets.ts);
   * default none. Whichever leads is followed when a standby names it.
   */
  otherUrls?: readonly string[];
  /**
   * A join token or the node's own credential; sent as `Authorization: Bearer` in the upgrade and in
   * Hello when `credentials` holds none, or when the allocator refuses the one it holds.
   */
  token: string;
  /**
   * Where the node's own credential is kept between runs (credential-file.ts); default none: a
   * credential from Welcome lives in memory only, and a restart presents `token` again.
   */
  credentials?: CredentialKeeper;
  /**
   * The CA a wss:// allocator's certificate must chain to (`--ca`, read by common/tls-files.ts);
   * default the system's CAs. Verification itself is never turned off.
   */
  ca?: TrustedCa;
  nodeName: string;
  agent: LinkAgent;
  /** Node labels for the inventory; default none. */
  labels?: Record<string, string>;
  /** The node's address and pod port range for the inventory (`--advertise-address`, `--port-range`); default null: none, so the node hosts pods without ports only. */
  network?: NodeNetwork | null;
  /** Status interval until a Welcome sets it; default DEFAULT_HEARTBEAT_MS, 2 s. */
  heartbeatMs?: number;
  /** The allocator's lease until a Welcome sets it; default DEFAULT_LEASE_MS, 40 s. Caps the reconnect backoff. */
  leaseMs?: number;
  /** Time between this agent's stop of a `reschedule` pod and its replacement; default DISCONNECT_MARGIN_MS. */
  marginMs?: number;
  /** Reconnect delays (backoff.ts); default RECONNECT_BACKOFF, 500 / 30000. */
  backoff?: ReconnectBackoff;
  /** [0, 1); default Math.random. */
  random?: () => number;
  /** Default `Date.now`. */
  now?: () => number;
  /** Default `setTimeout`. */
  setTimer?: SetTimer;
  /** The websocket client class; default ws's. */
  WebSocketImpl?: typeof WebSocket;
  /** Default JSON lines on stderr, `component: 'link'`. */
  log?: Logger;
  /** The fence guard's deadline file (guard-file.ts `createGuardFile`); default none. */
  guard?: LinkGuard;
}

const defaultSetTimer: SetTimer = (fn, ms) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

/** The defaults of `LinkOptions`, as its fields document them. */
const LINK_DEFAULTS = {
  otherUrls: [],
  labels: {},
  network: null,
  heartbeatMs: DEFAULT_HEARTBEAT_MS,
  leaseMs: DEFAULT_LEASE_MS,
  marginMs: DISCONNECT_MARGIN_MS,
  backoff: RECONNECT_BACKOFF,
  random: Math.random,
  now: Date.now,
  setTimer: defaultSetTimer,
  WebSocketImpl: WebSocket,
} as const satisfies DefaultsOf<LinkOptions>;

/** `LinkOptions` complete: every default filled in. */
export type ResolvedLinkOptions = WithDefaults<LinkOptions, typeof LINK_DEFAULTS> & { log: Logger };

/** Fills in every default of `opts`: done once, where the link is created. */
export function resolveLinkOptions(opts: LinkOptions): ResolvedLinkOptions {
  return {
    ...withDefaults(opts, LINK_DEFAULTS),
    log: opts.log ?? createLogger({ stream: process.stderr, fields: { component: 'link' } }),
  };
}
