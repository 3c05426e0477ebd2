/**
 * The agent's end of the wire (docs/architecture.md §5): one websocket to the allocator's
 * `/api/v1/agents/connect`, authenticated in the upgrade. It says Hello with the node's full state,
 * sends Status every heartbeat and an Event per agent event, applies Welcome / StartPod / StopPod /
 * Swap through the agent's API under the epoch rule (`apply.ts`), and reconnects with capped exponential
 * backoff and full jitter. Cut off from the allocator it keeps its pods running, except those whose
 * disconnect policy is `reschedule`: each of those it stops once it has heard nothing for the pod's
 * `rescheduleAfterMs`, before the allocator may place it elsewhere (common/disconnect.ts), so a pod
 * never runs twice and an allocator outage stops nothing else.
 *
 * Every frame from the allocator counts as "heard from it", so the allocator must answer each Status
 * (an Ack does) or this side fences its `reschedule` pods on a quiet but healthy link.
 */
import WebSocket from 'ws';
import { ackAfterMs, allocatorSilentMs } from '../../common/disconnect.ts';
import { formatError } from '../../common/errors.ts';
import { leaderOfReason } from '../../common/leader-close.ts';
import { errorCode, explainTlsFailure } from '../../common/tls-errors.ts';
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
import type { LinkState } from '../api.ts';
import { createApplier } from './apply.ts';
import { backoffDelayMs } from './backoff.ts';
import { createLinkCredential } from './credential.ts';
import { createLogServer } from './logs.ts';
import {
  desiredMap,
  eventToWire,
  fenceAgainst,
  inventoryFromStatus,
  runningPodsToWire,
  statusToWire,
} from './map.ts';
import { type LinkOptions, resolveLinkOptions } from './options.ts';
import { createSelfFence } from './self-fence.ts';
import { createStatusDeltas } from './status-delta.ts';
import { createTargets } from './targets.ts';

export type { LinkOptions } from './options.ts';

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

/** A close reason within RFC 6455's 123 bytes (ws throws on more); messages may hold non-ASCII. */
function closeReason(s: string): string {
  let r = s;
  while (Buffer.byteLength(r) > 123) r = r.slice(0, Math.min(r.length - 1, 120));
  return r;
}

/** Creates the link; nothing happens until `start()`. Throws on options that could never work. */
export function createLink(options: LinkOptions): Link {
  const opts = resolveLinkOptions(options);
  const { agent, nodeName, now, random, setTimer, WebSocketImpl, log, backoff, marginMs } = opts;
  // Until a Welcome sets them.
  let { heartbeatMs, leaseMs } = opts;
  if (marginMs <= 0) throw new RangeError(`marginMs (${marginMs}) must be positive`);

  let state: LinkState = 'idle';
  let sock: WebSocket | null = null;
  const credential = createLinkCredential(opts.token, opts.credentials, log);
  // Several allocators share a database and one leads: a standby names it, a dead one is skipped.
  const targets = createTargets([opts.url, ...opts.otherUrls]);
  // An upgrade refused with this HTTP status: a 401 for a saved credential sends `token` next.
  let refusedStatus: number | null = null;
  let nodeId: string | null = null;
  let connects = 0;
  let attempt = 0;
  let seq = 0;
  let ackedSeq = 0;
  let lastHeardMs = now();
  let cancelHeartbeat: () => void = () => {};
  let cancelReconnect: () => void = () => {};
  let unsubscribe: () => void = () => {};

  const tellGuard = (): void => opts.guard?.heard({ lastHeardMs, marginMs, heartbeatMs });

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

  // Deltas only where the Welcome offered them (an older allocator would read one as the whole node).
  const deltas = createStatusDeltas();
  const sendStatus = (): void => {
    // Most Statuses need no answer: an Ack is asked for only once the allocator has been quiet a while.
    const wantAck = now() - lastHeardMs >= ackAfterMs(heartbeatMs, leaseMs, fence.shortestMs());
    const full = { ...statusToWire(agent.status(), ++seq), wantAck };
    const frame = deltas.frame(full);
    if (send({ case: 'status', value: frame })) deltas.sent(full, frame);
    else deltas.reset();
  };

  const applier = createApplier({ agent, log, sendStatus });
  const fence = createSelfFence({
    agent,
    applier,
    lastHeardMs: () => lastHeardMs,
    now,
    setTimer,
    log,
    onFenced: () => sock?.terminate(),
  });
  // Pod logs for `tessera logs`: served from the pod's files, see logs.ts.
  const logs = createLogServer({ agent, send, log, backlogBytes: () => sock?.bufferedAmount ?? 0 });

  // An allocator this long silent on an open link is given up on: the link dials the next
  // allocator, which leads or names who does.
  const silentMs = (): number => allocatorSilentMs(heartbeatMs, leaseMs);

  const heartbeat = (): void => {
    cancelHeartbeat();
    if (state === 'stopped') return;
    cancelHeartbeat = setTimer(() => {
      if (state === 'welcomed' && now() - lastHeardMs > silentMs()) {
        log.warn('allocator silent; dialling the next one', { url: targets.current(), silentMs: silentMs() });
        targets.failed();
        sock?.terminate();
        return;
      }
      sendStatus();
      heartbeat();
    }, heartbeatMs);
  };

  const onWelcome = async (w: Welcome): Promise<void> => {
    state = 'welcomed';
    attempt = 0;
    nodeId = w.nodeId;
    if (w.nodeCredential !== null) credential.adopt(w.nodeCredential);
    heartbeatMs = w.heartbeatMs;
    leaseMs = w.leaseMs;
    deltas.configure(w.fullStatusEvery ?? null);
    tellGuard();
    heartbeat();
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
    fence.heard();
    // After it is applied: a StartPod may bring a pod with a shorter disconnect time.
    const done = (p: Promise<void>): void => {
      p.then(fence.arm, (e: unknown) =>
        log.error('handling a frame failed', { body: body.case, error: String(e) }),
      );
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
        if (body.value.wantFull === true) deltas.wantFull(body.value.seq);
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
        token: credential.current(),
        inventory: inventoryFromStatus(st, opts.labels, opts.network),
        runningPods: runningPodsToWire(st.pods),
      },
    });
  };

  const scheduleReconnect = (): void => {
    if (state === 'stopped') return;
    state = 'backoff';
    // Never wait longer than a quarter of the lease or of the shortest disconnect time: an allocator
    // back within either must find the agent redialling, not asleep past the point its pods stop.
    const shortest = Math.min(leaseMs, fence.shortestMs() ?? leaseMs);
    const capMs = Math.max(backoff.initialMs, Math.floor(shortest / 4));
    const delay = backoffDelayMs(attempt++, { ...backoff, maxMs: Math.min(backoff.maxMs, capMs) }, random);
    cancelReconnect = setTimer(connect, delay);
  };

  function connect(): void {
    if (state === 'stopped') return;
    state = 'connecting';
    const url = targets.current();
    let opened = false;
    // Until this connection's Welcome, every Status is full.
    deltas.configure(null);
    const s = new WebSocketImpl(url, {
      ...WS_OPTIONS,
      // A frozen allocator's kernel still accepts the TCP connection; its upgrade never comes.
      handshakeTimeout: silentMs(),
      headers: { authorization: `Bearer ${credential.current()}` },
      ...(opts.ca === undefined ? {} : { ca: opts.ca.pem }),
    });
    sock = s;
    // Always: an 'error' with no listener would throw and take the agent process down.
    s.on('error', (e) => {
      if (sock !== s) return;
      // A certificate problem repeats on every dial until someone fixes it: say what to fix.
      const tls = explainTlsFailure(errorCode(e), url, opts.ca);
      if (tls === undefined) log.warn('link error', { url, error: e.message });
      else log.error(`link error: the allocator at ${url} ${tls}`, { error: e.message });
    });
    // Handled here, ws leaves the refused request to us: note why, then let 'close' redial.
    s.on('unexpected-response', (_req, res) => {
      refusedStatus = res.statusCode ?? null;
      res.resume();
      s.terminate();
    });
    s.on('open', () => {
      if (sock !== s) return;
      state = 'open';
      opened = true;
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
      const why = reason.toString();
      if (code === WS_CLOSE.nodeExists)
        log.error(
          `the allocator refused to register node ${nodeName}: it is registered already. Start this agent with the data dir holding its node-credential.json, or have an admin run tessera node reset ${nodeName}`,
          { code, reason: why },
        );
      else log.info('link closed', { code, reason: why, refusedStatus, url });
      if (code === WS_CLOSE.notLeader) {
        // A standby: dial the leader it names, or the next allocator when it knows none yet.
        const leader = leaderOfReason(why);
        if (leader === null || !targets.follow(leader)) targets.failed();
      } else if (!opened && refusedStatus !== 401) targets.failed();
      if (refusedStatus === 401) credential.refused();
      refusedStatus = null;
      scheduleReconnect();
    });
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
      fence.arm();
    },
    async stop() {
      if (state === 'stopped') return;
      state = 'stopped';
      // Disarmed: the pods keep running for the next agent to adopt.
      opts.guard?.stopped();
      cancelHeartbeat();
      cancelReconnect();
      fence.stop();
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
