/**
 * The allocator's end of the agent link (ARCHITECTURE 5): one websocket per agent at
 * `/api/v1/agents/connect` on the allocator's HTTP server. Authentication happens in the HTTP
 * upgrade, before the websocket exists, so an unauthenticated peer never holds an open socket.
 * The first frame is Hello, answered by Welcome with the node's desired pods; then Status frames
 * keep the node's lease and carry pod reports, which are passed on only for pods assigned to that
 * node. `dispatch` sends StartPod / StopPod; `checkLeases` marks silent nodes lost.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { formatError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import {
  AGENT_BODIES,
  ALLOCATOR_BODIES,
  closeCodeOf,
  decodeFrame,
  encodeFrame,
  type Frame,
  type Hello,
  makeFrame,
  type Status,
  type WirePodStatus,
  WS_CLOSE,
  WS_OPTIONS,
} from '../../shared/wire.ts';
import type { Db } from '../store/db.ts';
import { markLostNodes, upsertNode } from '../store/nodes.ts';
import { getPod, listAssignments, listPods, type PodRecord, SCHEDULED_POD_PHASES } from '../store/pods.ts';
import { parseWirePodId, wirePodId } from './pod-id.ts';
import {
  authenticate,
  bearerOf,
  issueNodeCredential,
  type TokenIdentity,
  type TokenStore,
} from './tokens.ts';

/** The one path agents connect to. */
export const AGENT_CONNECT_PATH = '/api/v1/agents/connect';

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
  /** A node silent this long is lost. Default 40000 ms (ARCHITECTURE 5). */
  leaseMs?: number;
  /** How often agents send Status. Default 2000 ms. */
  heartbeatMs?: number;
  /** How often leases are checked on a timer; 0 turns the timer off (tests call checkLeases). Default heartbeatMs. */
  leaseCheckMs?: number;
  /** A connection that sends no Hello this long is closed (4400). Default 10000 ms. */
  helloTimeoutMs?: number;
  /** Epoch milliseconds; injected so lease tests need no waiting. Default Date.now. */
  now?: () => number;
  onNodeChange?: (change: NodeChange) => void;
  /** A pod report about a pod assigned to this node at this epoch; the lifecycle applies it. */
  onPodReport?: (node: string, report: WirePodStatus, pod: PodRecord) => void;
  /** A whole Status of a node, after its pod reports: what the node runs, for absence checks. */
  onStatus?: (node: string, status: Status) => void;
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
  closedBadFrame: number;
}

/** The link as the allocator service drives it. */
export interface AgentLink {
  /** Sends StartPod / StopPod / Swap to a node; false when it has no open session. */
  dispatch(node: string, frame: Frame): boolean;
  /** Marks nodes silent for more than leaseMs as lost, closes their sessions, returns their names. */
  checkLeases(nowMs?: number): string[];
  /** Names of nodes with a session past Hello. */
  connectedNodes(): string[];
  stats(): AgentLinkStats;
  /** Stops accepting, closes every session (1001 going away) and the lease timer. */
  close(): Promise<void>;
}

interface Session {
  ws: WebSocket;
  identity: Exclude<TokenIdentity, { kind: 'user' }>;
  bearer: string;
  /** Set once Hello is accepted. */
  node: string | null;
  /** Set when this side closes it: frames still in flight are dropped, a fenced session says nothing more. */
  closing: boolean;
  /** Each pod's last report on this session and when it was handled, to skip identical repeats. */
  lastReports: Map<string, { key: string; atMs: number }>;
}

/**
 * An identical pod report is handled again after this long even so: agents repeat every pod, ended
 * ones included, on every heartbeat, and handling each repeat cost most of the allocator's time at
 * 10,000 nodes; re-handling now and then retries one whose effect did not land.
 */
const REPEAT_REPORT_MS = 30_000;

function reportKey(r: WirePodStatus): string {
  return `${r.epoch}|${r.state}|${r.exitCode}|${r.signal}|${r.reason}`;
}

/** Largest close reason RFC 6455 allows (125-byte control frame minus the 2-byte code). */
const MAX_REASON_BYTES = 123;

/** RFC 6455 "going away": the server is shutting down, the agent should reconnect later. */
const GOING_AWAY = 1001;

/** RFC 6455 "internal error": this side failed on a valid frame; the agent should reconnect. */
const INTERNAL_ERROR = 1011;

function clip(reason: string): string {
  const buf = Buffer.from(reason, 'utf8');
  if (buf.byteLength <= MAX_REASON_BYTES) return reason;
  // Cut on a character boundary: a split UTF-8 sequence makes the peer fail the close frame.
  let s = reason;
  while (Buffer.byteLength(s, 'utf8') > MAX_REASON_BYTES - 3) s = s.slice(0, -1);
  return `${s}...`;
}

/** Answers an upgrade with a plain HTTP status and drops the socket, as ws's abortHandshake does. */
function refuseUpgrade(socket: Duplex, status: 401 | 404, text: string): void {
  // The peer may already be gone; a write error here must not crash the process.
  socket.on('error', () => {});
  const body = `${text}\n`;
  const title = status === 401 ? 'Unauthorized' : 'Not Found';
  const auth = status === 401 ? 'WWW-Authenticate: Bearer\r\n' : '';
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${title}\r\nConnection: close\r\nContent-Type: text/plain\r\n${auth}` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** Serves the agent websocket on `server`; returns the link's handle. */
export function attachAgentLink(server: Server, options: AgentLinkOptions): AgentLink {
  const { db, tokens, log } = options;
  const leaseMs = options.leaseMs ?? 40_000;
  const heartbeatMs = options.heartbeatMs ?? 2000;
  const helloTimeoutMs = options.helloTimeoutMs ?? 10_000;
  const now = options.now ?? Date.now;
  const wss = new WebSocketServer({ noServer: true, ...WS_OPTIONS });
  const sessions = new Map<string, Session>();
  // Heard-from times live in memory and reach the store once per lease check: one write transaction
  // per heartbeat interval instead of one fsync per frame, which 10,000 agents at 1 Hz would need.
  const seen = new Map<string, number>();
  // Nodes the store knows get a fresh lease from this start: the allocator cannot tell how long they
  // were silent while it was down, and their agents have been redialling all along.
  db.prepare('UPDATE nodes SET last_seen_ms = MAX(last_seen_ms, ?) WHERE lost = 0').run(now());
  const stats: AgentLinkStats = {
    connections: 0,
    refusedUpgrades: 0,
    statusFrames: 0,
    acceptedReports: 0,
    refusedReports: 0,
    repeatedReports: 0,
    closedBadFrame: 0,
  };

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = new URL(req.url ?? '/', 'http://link').pathname;
    if (path !== AGENT_CONNECT_PATH) {
      // Another upgrade handler may own this path; with none, an unanswered socket would hang.
      if (server.listenerCount('upgrade') === 1) refuseUpgrade(socket, 404, 'no websocket here');
      return;
    }
    const bearer = bearerOf(req.headers.authorization);
    const found = bearer === null ? null : authenticate(tokens, bearer);
    // A user's API token is not a node's: only join tokens and node credentials open the link.
    const identity = found === null || found.kind === 'user' ? null : found;
    if (bearer === null || identity === null) {
      stats.refusedUpgrades += 1;
      log?.warn('agent upgrade refused', {
        remote: req.socket.remoteAddress ?? '',
        hasToken: bearer !== null,
      });
      refuseUpgrade(socket, 401, 'a join token or node credential is required');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) =>
      onConnection({ ws, identity, bearer, node: null, closing: false, lastReports: new Map() }),
    );
  }

  function closeSession(s: Session, code: number, reason: string): void {
    if (s.closing) return;
    s.closing = true;
    if (code === WS_CLOSE.badFrame) stats.closedBadFrame += 1;
    log?.info('agent session closed', { node: s.node ?? '', code, reason });
    s.ws.close(code, clip(reason));
  }

  function onConnection(s: Session): void {
    stats.connections += 1;
    // A peer that authenticates and then says nothing would hold a socket forever.
    const helloTimer = setTimeout(() => {
      if (s.node === null) closeSession(s, WS_CLOSE.badFrame, `no hello within ${helloTimeoutMs} ms`);
    }, helloTimeoutMs);
    helloTimer.unref();
    // Without a listener a socket error (reset, bad frame) is thrown as an uncaught exception.
    s.ws.on('error', (e) => log?.warn('agent socket error', { node: s.node ?? '', error: e.message }));
    s.ws.on('message', (data, isBinary) => {
      if (s.closing) return;
      if (!isBinary || !Buffer.isBuffer(data)) {
        closeSession(s, WS_CLOSE.badFrame, 'frames must be binary protobuf');
        return;
      }
      const decoded = decodeFrame(data);
      if (!decoded.ok) {
        closeSession(s, closeCodeOf(decoded.error), formatError(decoded.error));
        return;
      }
      try {
        onFrame(s, decoded.value);
      } catch (e) {
        // A store failure on one frame must not crash the allocator through ws's emitter.
        const why = e instanceof Error ? e.message : String(e);
        log?.error('agent frame failed', { node: s.node ?? '', body: decoded.value.body.case, error: why });
        s.closing = true;
        s.ws.close(INTERNAL_ERROR, clip(why));
      }
    });
    s.ws.on('close', () => {
      clearTimeout(helloTimer);
      if (s.node === null || sessions.get(s.node) !== s) return;
      sessions.delete(s.node);
      options.onNodeChange?.({ node: s.node, change: 'disconnected' });
    });
  }

  function onFrame(s: Session, frame: Frame): void {
    const body = frame.body;
    if (!AGENT_BODIES.includes(body.case)) {
      closeSession(s, WS_CLOSE.forbidden, `agents may not send ${body.case}`);
      return;
    }
    if (s.node === null) {
      if (body.case !== 'hello')
        closeSession(s, WS_CLOSE.badFrame, `first frame must be hello, got ${body.case}`);
      else onHello(s, body.value);
      return;
    }
    // Any frame after Hello proves the node alive, whatever it carries.
    seen.set(s.node, now());
    switch (body.case) {
      case 'hello':
        closeSession(s, WS_CLOSE.badFrame, 'hello sent twice on one connection');
        return;
      case 'status':
        onStatus(s, s.node, body.value);
        // Every Status is answered: the agent counts only allocator frames as "heard", and fences
        // itself after a quiet half lease, so a quiet but healthy link must still say something.
        send(s, makeFrame({ case: 'ack', value: { seq: body.value.seq } }));
        return;
      default:
        // Events and acks feed later work (logs, explain); the lease is all they do here yet.
        return;
    }
  }

  function onHello(s: Session, hello: Hello): void {
    if (hello.token !== '' && hello.token !== s.bearer) {
      closeSession(s, WS_CLOSE.unauthenticated, 'hello.token differs from the connection token');
      return;
    }
    if (s.identity.kind === 'node' && s.identity.node !== hello.node) {
      closeSession(
        s,
        WS_CLOSE.forbidden,
        `this credential is for node ${s.identity.node}, not ${hello.node}`,
      );
      return;
    }
    const node = hello.node;
    const inv = hello.inventory;
    // One transaction (one fsync) for the node and its credential: thousands of agents join at once.
    const nodeCredential = db.transaction((): string | null => {
      upsertNode(
        db,
        {
          name: node,
          labels: inv.labels,
          gpus: inv.gpus.map((g) => ({
            uuid: g.uuid,
            index: g.index,
            model: g.model,
            memoryMiB: g.memoryMiB,
            healthy: g.healthy,
          })),
          cpuMillis: inv.cpuMillis,
          memoryMiB: inv.memoryMiB,
        },
        now(),
      );
      return s.identity.kind === 'join' ? issueNodeCredential(tokens, node) : null;
    })();
    const old = sessions.get(node);
    s.node = node;
    sessions.set(node, s);
    // One session per node: the newer connection wins (the agent reconnected, the old TCP is dead).
    if (old !== undefined) closeSession(old, WS_CLOSE.fenced, 'replaced by a newer connection of this node');
    const desiredPods = listPods(db, { node, phases: SCHEDULED_POD_PHASES }).map((p) => ({
      podId: wirePodId(p.workload, p.name),
      epoch: p.epoch,
    }));
    send(
      s,
      makeFrame({
        case: 'welcome',
        value: { nodeId: node, heartbeatMs, leaseMs, desiredPods, nodeCredential },
      }),
    );
    log?.info('agent connected', { node, agentVersion: hello.agentVersion, joined: nodeCredential !== null });
    if (old === undefined) options.onNodeChange?.({ node, change: 'connected' });
  }

  /** The pod a report may speak for, or why it may not: only this node's pods at their current epoch. */
  function owned(
    node: string,
    r: WirePodStatus,
  ): { ok: true; pod: PodRecord } | { ok: false; reason: RefusedReason } {
    const key = parseWirePodId(r.podId);
    const pod = key === null ? undefined : getPod(db, key.workload, key.pod);
    if (key === null || pod === undefined) return { ok: false, reason: 'unknown-pod' };
    const at = listAssignments(db, key.workload, key.pod).find((a) => a.epoch === r.epoch);
    if (at === undefined || at.node !== node) return { ok: false, reason: 'other-node' };
    if (pod.node !== node || pod.epoch !== r.epoch) return { ok: false, reason: 'stale-epoch' };
    return { ok: true, pod };
  }

  function onStatus(s: Session, node: string, status: Status): void {
    stats.statusFrames += 1;
    const nowMs = now();
    const previous = s.lastReports;
    // Rebuilt from this Status, so pods the agent no longer reports are forgotten.
    s.lastReports = new Map();
    for (const r of status.podStates) {
      const key = reportKey(r);
      const last = previous.get(r.podId);
      if (last !== undefined && last.key === key && nowMs - last.atMs < REPEAT_REPORT_MS) {
        s.lastReports.set(r.podId, last);
        stats.repeatedReports += 1;
        continue;
      }
      s.lastReports.set(r.podId, { key, atMs: nowMs });
      const check = owned(node, r);
      if (!check.ok) {
        // Never applied: a node may only speak for its own pods, or a stale copy could undo a move.
        stats.refusedReports += 1;
        // Agents keep reporting ended pods for a while (history); those of deleted or moved pods are
        // expected and only worth a debug line, a live one is worth a warning.
        const ended = r.state === 'exited' || r.state === 'lost';
        (ended ? log?.debug : log?.warn)?.('pod report refused', {
          node,
          podId: r.podId,
          epoch: r.epoch,
          reason: check.reason,
        });
        continue;
      }
      stats.acceptedReports += 1;
      options.onPodReport?.(node, r, check.pod);
    }
    options.onStatus?.(node, status);
  }

  function send(s: Session, frame: Frame): boolean {
    if (s.ws.readyState !== s.ws.OPEN) return false;
    s.ws.send(encodeFrame(frame));
    return true;
  }

  /** Writes the heard-from times gathered since the last flush, in one transaction. */
  const touch = db.prepare('UPDATE nodes SET last_seen_ms = ?, lost = 0 WHERE name = ?');
  const flushSeen = db.transaction(() => {
    for (const [node, ms] of seen) touch.run(ms, node);
    seen.clear();
  });

  function checkLeases(nowMs: number = now()): string[] {
    flushSeen();
    const lost = markLostNodes(db, nowMs, leaseMs);
    for (const node of lost) {
      const s = sessions.get(node);
      if (s !== undefined) {
        sessions.delete(node);
        // Its pods may be rescheduled from now on, so this session must not act on them again.
        closeSession(s, WS_CLOSE.fenced, `lease expired: silent for more than ${leaseMs} ms`);
      }
      log?.warn('node lost', { node, leaseMs });
      options.onNodeChange?.({ node, change: 'lost' });
    }
    return lost;
  }

  const leaseCheckMs = options.leaseCheckMs ?? heartbeatMs;
  const timer = leaseCheckMs > 0 ? setInterval(() => checkLeases(), leaseCheckMs) : null;
  // The timer alone must not keep the process alive; the HTTP server does that.
  timer?.unref();
  server.on('upgrade', onUpgrade);

  return {
    dispatch(node, frame) {
      if (!ALLOCATOR_BODIES.includes(frame.body.case))
        throw new Error(`the allocator does not send ${frame.body.case}`);
      const s = sessions.get(node);
      return s === undefined ? false : send(s, frame);
    },
    checkLeases,
    connectedNodes: () => [...sessions.keys()].sort(),
    stats: () => ({ ...stats }),
    close: () =>
      new Promise<void>((resolve) => {
        server.off('upgrade', onUpgrade);
        if (timer !== null) clearInterval(timer);
        if (db.open) flushSeen();
        for (const ws of wss.clients) ws.close(GOING_AWAY, 'allocator shutting down');
        sessions.clear();
        wss.close(() => resolve());
      }),
  };
}
