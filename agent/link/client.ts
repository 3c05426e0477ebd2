/**
 * The agent's end of the wire (docs/architecture.md §5): one websocket to the allocator's
 * `/api/v1/agents/connect`, authenticated in the upgrade. It says Hello with the node's full state,
 * sends Status every heartbeat and an Event per agent event, applies Welcome / StartPod / StopPod /
 * Swap through the agent's API under the epoch rule (`apply.ts`), reconnects with capped exponential backoff and
 * full jitter, and fences itself: cut off for `leaseMs - marginMs`, it stops its pods before the
 * allocator may reschedule them, so a pod never runs twice.
 *
 * Every frame from the allocator counts as "heard from it", so the allocator must answer each Status
 * (an Ack does) or this side fences itself on a quiet but healthy link.
 */
import WebSocket from 'ws';
import { formatError } from '../../common/errors.ts';
import { createLogger, type Logger } from '../../common/log.ts';
import { errorCode, explainTlsFailure } from '../../common/tls-errors.ts';
import type { TrustedCa } from '../../common/tls-files.ts';
import {
  ALLOCATOR_BODIES,
  closeCodeOf,
  decodeFrame,
  encodeFrame,
  type FrameBody,
  makeFrame,
  type Welcome,
  WS_CLOSE,
  WS_OPTIONS,
} from '../../common/wire.ts';
import type { AgentApi, AgentEvent } from '../api.ts';
import { createApplier } from './apply.ts';
import { type Backoff, backoffDelayMs, DEFAULT_BACKOFF } from './backoff.ts';
import { createLogServer } from './logs.ts';
import {
  desiredMap,
  eventToWire,
  fenceAgainst,
  inventoryFromStatus,
  runningPodsToWire,
  statusToWire,
} from './map.ts';

/** What the link needs of the agent: its API plus the event subscription (agent.ts `Agent`). */
export type LinkAgent = Pick<AgentApi, 'startPod' | 'stopPod' | 'swap' | 'status'> & {
  subscribe(fn: (e: AgentEvent) => void): () => void;
};

/** Runs `fn` once after `ms`; returns the cancel. Injected so tests can drive time. */
export type SetTimer = (fn: () => void, ms: number) => () => void;

/** The link's clock as the fence guard needs it (guard-file.ts); all in ms. */
export interface LinkClock {
  lastHeardMs: number;
  fenceAfterMs: number;
  leaseMs: number;
  heartbeatMs: number;
}

/** Told when the allocator is heard from (and at start), and when the link stops cleanly. */
export interface LinkGuard {
  heard(clock: LinkClock): void;
  stopped(): void;
}

/** Where the link is: lifecycles are a union, not flags (docs/style.md). */
export type LinkState = 'idle' | 'connecting' | 'open' | 'welcomed' | 'backoff' | 'stopped';

/** Options of `createLink`; durations in ms, defaults per field. */
export interface LinkOptions {
  /** `ws://host:port/api/v1/agents/connect`. */
  url: string;
  /** A join token or the node's own credential; sent as `Authorization: Bearer` in the upgrade and in Hello. */
  token: string;
  /**
   * The CA a wss:// allocator's certificate must chain to (`--ca`, read by common/tls-files.ts);
   * default the system's CAs. Verification itself is never turned off.
   */
  ca?: TrustedCa;
  nodeName: string;
  agent: LinkAgent;
  /** Node labels for the inventory; default none. */
  labels?: Record<string, string>;
  /** Status interval until a Welcome sets it; default 2000. */
  heartbeatMs?: number;
  /** The allocator's lease until a Welcome sets it; default 40000 (docs/architecture.md §5). */
  leaseMs?: number;
  /** How long before the lease ends the agent fences itself, to cover pods' stop time; default 10000. */
  marginMs?: number;
  /** Reconnect delays (backoff.ts); default DEFAULT_BACKOFF, 500 / 30000. */
  backoff?: Backoff;
  /** [0, 1); default Math.random. */
  random?: () => number;
  now?: () => number;
  setTimer?: SetTimer;
  /** The websocket client class; default ws's. */
  WebSocketImpl?: typeof WebSocket;
  log?: Logger;
  /** The fence guard's deadline file (guard-file.ts `createGuardFile`); default none. */
  guard?: LinkGuard;
}

/** A running link. */
export interface Link {
  /** Connects (and keeps reconnecting) and arms the self-fencing clock. */
  start(): void;
  /** Closes the socket and every timer; pods keep running, for the next agent to adopt. */
  stop(): Promise<void>;
  readonly state: LinkState;
  /** The allocator's id for this node, from the last Welcome. */
  readonly nodeId: string | null;
  /** Connections opened so far (each sent a Hello). */
  readonly connects: number;
  /** Highest seq the allocator acknowledged. */
  readonly ackedSeq: number;
}

const defaultSetTimer: SetTimer = (fn, ms) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

/** A close reason within RFC 6455's 123 bytes (ws throws on more); messages may hold non-ASCII. */
function closeReason(s: string): string {
  let r = s;
  while (Buffer.byteLength(r) > 123) r = r.slice(0, Math.min(r.length - 1, 120));
  return r;
}

/** Creates the link; nothing happens until `start()`. Throws on options that could never work. */
export function createLink(opts: LinkOptions): Link {
  const { agent, nodeName } = opts;
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const setTimer = opts.setTimer ?? defaultSetTimer;
  const WebSocketImpl = opts.WebSocketImpl ?? WebSocket;
  const log = opts.log ?? createLogger({ stream: process.stderr, fields: { component: 'link' } });
  const backoff = opts.backoff ?? DEFAULT_BACKOFF;
  const marginMs = opts.marginMs ?? 10_000;
  let heartbeatMs = opts.heartbeatMs ?? 2000;
  let leaseMs = opts.leaseMs ?? 40_000;
  if (leaseMs <= marginMs) {
    throw new RangeError(`leaseMs (${leaseMs}) must be longer than marginMs (${marginMs})`);
  }

  let state: LinkState = 'idle';
  let sock: WebSocket | null = null;
  let credential = opts.token;
  let nodeId: string | null = null;
  let connects = 0;
  let attempt = 0;
  let seq = 0;
  let ackedSeq = 0;
  let lastHeardMs = now();
  let fenced = false;
  let cancelHeartbeat: () => void = () => {};
  let cancelReconnect: () => void = () => {};
  let cancelFence: () => void = () => {};
  let unsubscribe: () => void = () => {};

  /** Self-fencing starts this long after the last frame heard; a Welcome's shorter lease still leaves half. */
  const fenceAfterMs = (): number => Math.max(leaseMs - marginMs, Math.floor(leaseMs / 2));
  const tellGuard = (): void =>
    opts.guard?.heard({ lastHeardMs, fenceAfterMs: fenceAfterMs(), leaseMs, heartbeatMs });

  const send = (body: FrameBody): boolean => {
    const s = sock;
    if (s === null || s.readyState !== WebSocket.OPEN) return false;
    try {
      s.send(encodeFrame(makeFrame(body)));
      return true;
    } catch (e) {
      // A frame over a wire limit is a bug on this side; the link goes on with the next one.
      log.error('frame not sent', { body: body.case, error: e instanceof Error ? e.message : String(e) });
      return false;
    }
  };

  const sendStatus = (): void => {
    send({ case: 'status', value: statusToWire(agent.status(), ++seq) });
  };

  const applier = createApplier({ agent, log, sendStatus });
  // Pod logs for `tessera logs`: served from the pod's files, see logs.ts.
  const logs = createLogServer({ agent, send, log });

  const heartbeat = (): void => {
    cancelHeartbeat();
    if (state === 'stopped') return;
    cancelHeartbeat = setTimer(() => {
      sendStatus();
      heartbeat();
    }, heartbeatMs);
  };

  const onWelcome = async (w: Welcome): Promise<void> => {
    state = 'welcomed';
    attempt = 0;
    nodeId = w.nodeId;
    if (w.nodeCredential !== null) credential = w.nodeCredential;
    heartbeatMs = w.heartbeatMs;
    leaseMs = w.leaseMs;
    tellGuard();
    heartbeat();
    armFence();
    const desired = desiredMap(w.desiredPods);
    await applier.stopLivePods((p) => {
      const v = fenceAgainst(p, desired);
      return v.keep ? null : v.reason;
    });
    sendStatus();
  };

  const onFrame = (s: WebSocket, data: WebSocket.RawData, isBinary: boolean): void => {
    const bytes = Array.isArray(data)
      ? Buffer.concat(data)
      : data instanceof ArrayBuffer
        ? new Uint8Array(data)
        : data;
    const decoded = isBinary ? decodeFrame(bytes) : null;
    if (decoded === null || !decoded.ok) {
      const why = decoded === null ? 'frames must be binary' : formatError(decoded.error);
      const code = decoded === null || decoded.ok ? WS_CLOSE.badFrame : closeCodeOf(decoded.error);
      log.warn('bad frame from the allocator; closing', { code, error: why });
      s.close(code, closeReason(why));
      return;
    }
    const body = decoded.value.body;
    if (!ALLOCATOR_BODIES.includes(body.case)) {
      s.close(WS_CLOSE.forbidden, closeReason(`an allocator does not send ${body.case}`));
      return;
    }
    // Only a well-formed allocator frame proves the allocator still holds our lease.
    lastHeardMs = now();
    // Before the frame is applied: a StartPod must never meet the guard's old, passed deadline.
    tellGuard();
    if (fenced) {
      fenced = false;
      armFence();
    }
    const done = (p: Promise<void>): void => {
      p.catch((e: unknown) => log.error('handling a frame failed', { body: body.case, error: String(e) }));
    };
    switch (body.case) {
      case 'welcome':
        done(onWelcome(body.value));
        return;
      case 'startPod':
        done(applier.onStartPod(body.value));
        return;
      case 'stopPod':
        done(applier.onStopPod(body.value));
        return;
      case 'swap':
        done(applier.onSwap(body.value));
        return;
      case 'ack':
        ackedSeq = Math.max(ackedSeq, body.value.seq);
        return;
      case 'logRequest':
        logs.onRequest(body.value);
        return;
      case 'logStop':
        logs.onStop(body.value.requestId);
        return;
      default:
        return;
    }
  };

  const sendHello = (): void => {
    const st = agent.status();
    applier.notePods(st.pods);
    send({
      case: 'hello',
      value: {
        node: nodeName,
        agentVersion: st.agent.version,
        token: credential,
        inventory: inventoryFromStatus(st, opts.labels ?? {}),
        runningPods: runningPodsToWire(st.pods),
      },
    });
  };

  const scheduleReconnect = (): void => {
    if (state === 'stopped') return;
    state = 'backoff';
    // Never wait longer than a quarter of the time to self-fencing: an allocator back within its
    // lease must find the agent redialling, not asleep past the point its pods are stopped.
    const capMs = Math.max(backoff.initialMs, Math.floor(fenceAfterMs() / 4));
    const delay = backoffDelayMs(attempt++, { ...backoff, maxMs: Math.min(backoff.maxMs, capMs) }, random);
    cancelReconnect = setTimer(connect, delay);
  };

  function connect(): void {
    if (state === 'stopped') return;
    state = 'connecting';
    const s = new WebSocketImpl(opts.url, {
      ...WS_OPTIONS,
      headers: { authorization: `Bearer ${credential}` },
      ...(opts.ca === undefined ? {} : { ca: opts.ca.pem }),
    });
    sock = s;
    // Always: an 'error' with no listener would throw and take the agent process down.
    s.on('error', (e) => {
      if (sock !== s) return;
      // A certificate problem repeats on every dial until someone fixes it: say what to fix.
      const tls = explainTlsFailure(errorCode(e), opts.url, opts.ca);
      if (tls === undefined) log.warn('link error', { error: e.message });
      else log.error(`link error: the allocator at ${opts.url} ${tls}`, { error: e.message });
    });
    s.on('open', () => {
      if (sock !== s) return;
      state = 'open';
      connects++;
      sendHello();
      heartbeat();
    });
    s.on('message', (data, isBinary) => {
      if (sock === s) onFrame(s, data, isBinary);
    });
    s.on('close', (code, reason) => {
      if (sock !== s) return;
      sock = null;
      cancelHeartbeat();
      logs.stopAll();
      log.info('link closed', { code, reason: reason.toString() });
      scheduleReconnect();
    });
  }

  const fence = (): void => {
    const silentMs = now() - lastHeardMs;
    if (silentMs < fenceAfterMs()) {
      armFence();
      return;
    }
    fenced = true;
    const reason = `lease lost: cut off from the allocator for ${silentMs} ms`;
    log.warn('fencing: stopping every pod', { silentMs, leaseMs, marginMs });
    applier
      .stopLivePods(() => reason)
      .catch((e: unknown) => log.error('fencing stop failed', { error: String(e) }));
    // A socket open but silent this long is most likely half-open: drop it and dial again.
    if (sock !== null) sock.terminate();
  };

  function armFence(): void {
    cancelFence();
    if (state === 'stopped' || fenced) return;
    cancelFence = setTimer(fence, Math.max(0, lastHeardMs + fenceAfterMs() - now()));
  }

  return {
    start() {
      if (state !== 'idle') return;
      lastHeardMs = now();
      tellGuard();
      unsubscribe = agent.subscribe((e) => {
        send({ case: 'event', value: eventToWire(e, ++seq) });
      });
      connect();
      armFence();
    },
    async stop() {
      if (state === 'stopped') return;
      state = 'stopped';
      // Disarmed: the pods keep running for the next agent to adopt.
      opts.guard?.stopped();
      cancelHeartbeat();
      cancelReconnect();
      cancelFence();
      unsubscribe();
      logs.stopAll();
      const s = sock;
      sock = null;
      if (s === null || s.readyState === WebSocket.CLOSED) return;
      await new Promise<void>((resolve) => {
        const cancel = setTimer(() => {
          s.terminate();
          resolve();
        }, 1000);
        s.once('close', () => {
          cancel();
          resolve();
        });
        s.close(WS_CLOSE.normal, 'agent stopping');
      });
    },
    get state() {
      return state;
    },
    get nodeId() {
      return nodeId;
    },
    get connects() {
      return connects;
    },
    get ackedSeq() {
      return ackedSeq;
    },
  };
}
