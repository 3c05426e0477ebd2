/**
 * The allocator's end of the agent link (docs/architecture.md §5): one websocket per agent at
 * `/api/v1/agents/connect` on the allocator's HTTP server. Authentication happens in the HTTP
 * upgrade, before the websocket exists, so an unauthenticated peer never holds an open socket.
 * A join token registers only a new node name (identity/nodes.ts); every Hello is answered by a
 * Welcome with a fresh node credential (rotation) and the node's desired pods; then Status frames
 * keep the node's lease and carry pod reports, which are passed on only for pods assigned to that
 * node. `dispatch` sends StartPod / StopPod; `checkLeases` marks silent nodes lost.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { formatError } from '../../common/errors.ts';
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
  WS_CLOSE,
  WS_OPTIONS,
} from '../../common/wire.ts';
import type { AgentIdentity } from '../identity/nodes.ts';
import { markLostNodes, renewLeases } from '../store/nodes.ts';
import { listPods, SCHEDULED_POD_PHASES } from '../store/pods.ts';
import { admitAgent, isAgentUpgrade } from './admit.ts';
import { clip, GOING_AWAY, INTERNAL_ERROR, refusalClose, refuseUpgrade } from './close.ts';
import { createHeardTimes } from './heard.ts';
import { createJoinQueue, type JoinOutcome } from './join.ts';
import { createLogRouter } from './logs.ts';
import { resolveAgentLinkOptions } from './options.ts';
import { wirePodId } from './pod-id.ts';
import { owned } from './reports.ts';
import { applyStatus, type StatusView } from './status-view.ts';
import { type AgentLink, type AgentLinkOptions, emptyLinkStats } from './types.ts';

export { AGENT_CONNECT_PATH } from './admit.ts';
export {
  DEFAULT_FULL_STATUS_EVERY,
  type ResolvedAgentLinkOptions,
  resolveAgentLinkOptions,
} from './options.ts';
export type { AgentLink, AgentLinkOptions, AgentLinkStats, NodeChange, RefusedReason } from './types.ts';

interface Session {
  ws: WebSocket;
  identity: AgentIdentity;
  bearer: string;
  /** Set once Hello is accepted. */
  node: string | null;
  /** Set when this side closes it: frames still in flight are dropped, a fenced session says nothing more. */
  closing: boolean;
  /** The node as this session's Statuses merged so far (deltas build on it); null before the first. */
  view: StatusView | null;
  /** While its Hello waits to be registered: frames that came after it, handled once it is. */
  early: Frame[] | null;
}

/** Serves the agent websocket on `server`; returns the link's handle. */
export function attachAgentLink(server: Server, given: AgentLinkOptions): AgentLink {
  const options = resolveAgentLinkOptions(given);
  const { db, tokens, log, leaseMs, heartbeatMs, helloTimeoutMs, fullStatusEvery, now } = options;
  const wss = new WebSocketServer({ noServer: true, ...WS_OPTIONS });
  const sessions = new Map<string, Session>();
  // Heard-from times live in memory and reach the store only as the lease readers need (heard.ts).
  const heard = createHeardTimes(db, leaseMs);
  // Nodes the store knows get a fresh lease from this start (renewLeases says why).
  renewLeases(db, now());
  const stats = emptyLinkStats();

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!isAgentUpgrade(req)) {
      // Another upgrade handler may own this path; with none, an unanswered socket would hang.
      if (server.listenerCount('upgrade') === 1) refuseUpgrade(socket, 404, 'no websocket here');
      return;
    }
    const admission = admitAgent(req, socket, tokens);
    if (!admission.admitted) {
      stats.refusedUpgrades += 1;
      log?.warn('agent upgrade refused', {
        remote: req.socket.remoteAddress ?? '',
        hasToken: admission.hasToken,
      });
      return;
    }
    const { identity, bearer } = admission;
    wss.handleUpgrade(req, socket, head, (ws) =>
      onConnection({
        ws,
        identity,
        bearer,
        node: null,
        closing: false,
        view: null,
        early: null,
      }),
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
      handleFrame(s, decoded.value);
    });
    s.ws.on('close', () => {
      clearTimeout(helloTimer);
      if (s.node === null || sessions.get(s.node) !== s) return;
      sessions.delete(s.node);
      logs.nodeGone(s.node);
      options.onNodeChange?.({ node: s.node, change: 'disconnected' });
    });
  }

  function handleFrame(s: Session, frame: Frame): void {
    try {
      onFrame(s, frame);
    } catch (e) {
      // A store failure on one frame must not crash the allocator through ws's emitter.
      const why = e instanceof Error ? e.message : String(e);
      log?.error('agent frame failed', { node: s.node ?? '', body: frame.body.case, error: why });
      s.closing = true;
      s.ws.close(INTERNAL_ERROR, clip(why));
    }
  }

  function onFrame(s: Session, frame: Frame): void {
    const body = frame.body;
    if (!AGENT_BODIES.includes(body.case)) {
      closeSession(s, WS_CLOSE.forbidden, `agents may not send ${body.case}`);
      return;
    }
    if (s.early !== null) {
      // Its Hello waits for its group's commit (join.ts); what follows waits with it.
      if (body.case === 'hello') closeSession(s, WS_CLOSE.badFrame, 'hello sent twice on one connection');
      else s.early.push(frame);
      return;
    }
    if (s.node === null) {
      if (body.case !== 'hello')
        closeSession(s, WS_CLOSE.badFrame, `first frame must be hello, got ${body.case}`);
      else onHello(s, body.value);
      return;
    }
    // Any frame after Hello proves the node alive, whatever it carries.
    heard.heard(s.node, now());
    switch (body.case) {
      case 'hello':
        closeSession(s, WS_CLOSE.badFrame, 'hello sent twice on one connection');
        return;
      case 'status': {
        const wantFull = onStatus(s, s.node, body.value);
        // The agent counts only allocator frames as "heard" and gives up on a silent allocator, so
        // it asks for an Ack after a quiet spell; one write per Status was a third of the link's
        // cost. An agent that does not say (older ones) is answered every time.
        if (wantFull || body.value.wantAck !== false) {
          send(s, makeFrame({ case: 'ack', value: { seq: body.value.seq, wantFull } }));
        }
        return;
      }
      case 'logChunk':
        logs.onChunk(s.node, body.value);
        return;
      case 'event':
        options.onEvent?.(s.node, body.value);
        return;
      default:
        // Acks: the lease is all they do here.
        return;
    }
  }

  function onHello(s: Session, hello: Hello): void {
    if (hello.token !== '' && hello.token !== s.bearer) {
      closeSession(s, WS_CLOSE.unauthenticated, 'hello.token differs from the connection token');
      return;
    }
    s.early = [];
    joins.add(s, hello);
  }

  /** A Hello's group was committed: refuse, or make the session its node's and send the Welcome. */
  function joined(s: Session, hello: Hello, outcome: JoinOutcome): void {
    const early = s.early ?? [];
    s.early = null;
    const node = hello.node;
    if (outcome.kind === 'failed') {
      log?.error('agent frame failed', { node, body: 'hello', error: outcome.error });
      s.closing = true;
      s.ws.close(INTERNAL_ERROR, clip(outcome.error));
      return;
    }
    if (outcome.kind === 'refused') {
      const { code, reason } = refusalClose(outcome.refusal, node);
      if (code === WS_CLOSE.nodeExists)
        log?.warn('join refused: node name already registered', { node, reason });
      closeSession(s, code, reason);
      return;
    }
    heard.stored(node, outcome.atMs);
    const old = sessions.get(node);
    s.node = node;
    sessions.set(node, s);
    // One session per node: the newer connection wins (the agent reconnected, the old TCP is dead).
    if (old !== undefined) {
      closeSession(old, WS_CLOSE.fenced, 'replaced by a newer connection of this node');
      logs.nodeGone(node);
    }
    const desiredPods = listPods(db, { node, phases: SCHEDULED_POD_PHASES }).map((p) => ({
      podId: wirePodId(p.workload, p.name),
      epoch: p.epoch,
    }));
    const { nodeCredential } = outcome;
    send(
      s,
      makeFrame({
        case: 'welcome',
        value: {
          ...{ nodeId: node, heartbeatMs, leaseMs, desiredPods, nodeCredential },
          fullStatusEvery: fullStatusEvery > 0 ? fullStatusEvery : null,
        },
      }),
    );
    log?.info('agent connected', {
      node,
      agentVersion: hello.agentVersion,
      joined: s.identity.kind === 'join',
    });
    if (old === undefined) options.onNodeChange?.({ node, change: 'connected' });
    // Frames the agent sent after its Hello, before this Welcome, in the order they came.
    for (const f of early) if (!s.closing) handleFrame(s, f);
  }

  /** Handles one Status; true when it was a delta this session cannot apply (the Ack asks for a full one). */
  function onStatus(s: Session, node: string, status: Status): boolean {
    stats.statusFrames += 1;
    if (status.delta !== undefined && status.delta !== null) stats.deltaFrames += 1;
    const step = applyStatus(s.view, status, now());
    if (step.kind === 'gap') {
      s.view = null;
      stats.statusGaps += 1;
      log?.warn('delta status without its base; asking for a full one', {
        node,
        seq: status.seq,
        baseSeq: status.delta?.baseSeq ?? 0,
      });
    } else {
      s.view = step.view;
      stats.repeatedReports += step.repeated;
    }
    for (const r of step.handle) {
      const check = owned(db, node, r);
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
    if (step.kind === 'gap') return true;
    options.onStatus?.(node, step.merged);
    return false;
  }

  function send(s: Session, frame: Frame): boolean {
    if (s.ws.readyState !== s.ws.OPEN) return false;
    s.ws.send(encodeFrame(frame));
    return true;
  }

  function checkLeases(nowMs: number = now()): string[] {
    heard.flush(nowMs);
    const lost = markLostNodes(db, nowMs, leaseMs);
    for (const node of lost) {
      heard.forget(node);
      const s = sessions.get(node);
      if (s !== undefined) {
        sessions.delete(node);
        logs.nodeGone(node);
        // Its pods may be rescheduled from now on, so this session must not act on them again.
        closeSession(s, WS_CLOSE.fenced, `lease expired: silent for more than ${leaseMs} ms`);
      }
      log?.warn('node lost', { node, leaseMs });
      options.onNodeChange?.({ node, change: 'lost' });
    }
    options.onLeaseCheck?.(nowMs);
    return lost;
  }

  const joins = createJoinQueue<Session>({
    db,
    tokens,
    now,
    live: (s) => !s.closing && s.ws.readyState === s.ws.OPEN,
    done: (s, hello, outcome) => {
      try {
        joined(s, hello, outcome);
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        log?.error('agent frame failed', { node: hello.node, body: 'hello', error: why });
        s.closing = true;
        s.ws.close(INTERNAL_ERROR, clip(why));
      }
    },
  });

  const logs = createLogRouter({
    send: (node, body) => {
      const s = sessions.get(node);
      return s !== undefined && !s.closing && send(s, makeFrame(body));
    },
  });

  const { leaseCheckMs } = options;
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
    disconnect(node, reason) {
      const s = sessions.get(node);
      if (s === undefined) return false;
      sessions.delete(node);
      logs.nodeGone(node);
      closeSession(s, WS_CLOSE.unauthenticated, reason);
      options.onNodeChange?.({ node, change: 'disconnected' });
      return true;
    },
    connectedNodes: () => [...sessions.keys()].sort(),
    requestLogs: (node, ask, onChunk) => logs.request(node, ask, onChunk),
    stats: () => ({ ...stats }),
    refuseNew: () => {
      server.off('upgrade', onUpgrade);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.off('upgrade', onUpgrade);
        if (timer !== null) clearInterval(timer);
        // A deposed leader's flush is fenced: that must not keep its sessions open.
        try {
          if (db.open) heard.flush(now(), true);
        } catch (e) {
          log?.warn('heard-from times not saved', { error: e instanceof Error ? e.message : String(e) });
        }
        for (const ws of wss.clients) ws.close(GOING_AWAY, 'allocator shutting down');
        sessions.clear();
        logs.close();
        wss.close(() => resolve());
      }),
  };
}
