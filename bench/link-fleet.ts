/**
 * A fleet of simulated agents for the link benchmark (bench/link.ts), run as a child process so the
 * websocket clients' own CPU does not land on the allocator's event loop. Each agent opens a real
 * websocket with a Bearer token, sends a real Hello, then a real Status every heartbeat with the send
 * time in `atMs` (frames: bench/link-frames.ts): a full ~2 KiB one first and every `fullStatusEvery`
 * heartbeats (the Welcome's, or the command's for the bare server), a delta of the GPU samples in
 * between, as a real agent does (agent/link/status-delta.ts). Sends are staggered over the heartbeat
 * by agent index, as independent nodes would be.
 *
 * The parent drives it over IPC (FleetCommand) and gets FleetReply back. Measured here: the round
 * trip Status -> Ack{seq} (the allocator answers every Status) and the receive time
 * of every StartPod by podId.
 */
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { ackAfterMs } from '../common/disconnect.ts';
import { decodeFrame, WS_OPTIONS } from '../common/wire.ts';
import {
  helloBytes,
  padTo,
  patchStatus,
  SEQ_BASE,
  type SimNode,
  type StatusTemplate,
  simNode,
  statusBytes,
  statusTemplate,
} from './link-frames.ts';

/** What the parent sends. */
export type FleetCommand =
  | {
      type: 'start';
      url: string;
      token: string;
      agents: number;
      /** Index of this fleet's first agent in the whole run; names and stagger follow from it. */
      firstIndex: number;
      totalAgents: number;
      heartbeatMs: number;
      /** Encoded Status size to pad to, in bytes; 0 sends no padding pod states. */
      frameBytes: number;
      /** Count the agent joined at Welcome (allocator) or at socket open (bare server, no Welcome). */
      awaitWelcome: boolean;
      /** Agents not joined by then are reported as failed (they keep trying). */
      joinTimeoutMs: number;
      /** Connections this fleet has in the handshake at once; a burst of thousands overflows the accept queue. */
      connectConcurrency: number;
      /** A full Status every this many, deltas between; a Welcome's value wins, but 1 (no deltas, as agents before them) always holds. */
      fullStatusEvery: number;
    }
  | { type: 'window-start' }
  | { type: 'window-end' }
  | { type: 'report' }
  | { type: 'stop' };

/** What the fleet answers. */
export type FleetReply =
  | { type: 'joined'; joined: number; failed: number; errors: string[]; statusBytes: number }
  | {
      type: 'report';
      /** Statuses sent inside the window, and how many of those were acked so far. */
      sent: number;
      acked: number;
      /** Ack round trips of the window's statuses, ms. */
      ackLatencyMs: number[];
      /** Every StartPod received since start: [podId, receive time epoch ms]. */
      starts: [string, number][];
      open: number;
      closes: Record<string, number>;
      /** This process's CPU since the window opened. */
      cpuMs: number;
    };

interface Agent {
  sim: SimNode;
  ws: WebSocket | null;
  joined: boolean;
  seq: number;
  /** Statuses in flight: seq -> [performance.now() at send, sent inside the window]. */
  pending: Map<number, [number, boolean]>;
  template: StatusTemplate | null;
  deltaTemplate: StatusTemplate | null;
  /** Full Status every this many; deltas sent since the last full one; the next one must be full. */
  fullEvery: number;
  sinceFull: number;
  fullNext: boolean;
  timer: NodeJS.Timeout | null;
  /** When the allocator last said anything, and how quiet it may be before a Status asks for an Ack (as an agent does). */
  heardAtMs: number;
  ackAfterMs: number;
}

let windowOpen = false;
let windowCpu = process.cpuUsage();
let sent = 0;
let acked = 0;
let ackLatencyMs: number[] = [];
const starts: [string, number][] = [];
const closes: Record<string, number> = {};
const agents: Agent[] = [];
const templateChecked = { full: false, delta: false };

/** The agent's Status template, checked once per process: a patched frame must decode to its numbers. */
function template(a: Agent, kind: 'full' | 'delta'): StatusTemplate {
  const t = statusTemplate(a.sim, kind);
  if (templateChecked[kind]) return t;
  const at = Date.now();
  const probe = decodeFrame(patchStatus(t, SEQ_BASE + 5, at, true));
  const v = probe.ok && probe.value.body.case === 'status' ? probe.value.body.value : null;
  const base = kind === 'delta' ? SEQ_BASE + 4 : null;
  const patched = v !== null && v.seq === SEQ_BASE + 5 && v.atMs === at && v.wantAck === true;
  if (!patched || (v.delta?.baseSeq ?? null) !== base)
    throw new Error(`link-fleet: a patched ${kind} Status does not decode to its seq / atMs / baseSeq`);
  templateChecked[kind] = true;
  return t;
}

function sendStatus(a: Agent): void {
  const ws = a.ws;
  if (ws === null || ws.readyState !== WebSocket.OPEN) return;
  a.seq += 1;
  // Samples move on every ten heartbeats; a pod change clears the template at once.
  if (a.seq % 10 === 0) {
    a.template = null;
    a.deltaTemplate = null;
  }
  const full = a.fullNext || a.fullEvery <= 1 || a.sinceFull + 1 >= a.fullEvery;
  let t: StatusTemplate;
  if (full) {
    a.template ??= template(a, 'full');
    t = a.template;
    a.sinceFull = 0;
    a.fullNext = false;
  } else {
    a.deltaTemplate ??= template(a, 'delta');
    t = a.deltaTemplate;
    a.sinceFull += 1;
  }
  const now = Date.now();
  const bytes = patchStatus(t, a.seq, now, now - a.heardAtMs >= a.ackAfterMs);
  a.pending.set(a.seq, [performance.now(), windowOpen]);
  if (windowOpen) sent += 1;
  ws.send(bytes);
}

function onMessage(a: Agent, data: Buffer, joined: () => void): void {
  const decoded = decodeFrame(data);
  if (!decoded.ok) return;
  const body = decoded.value.body;
  a.heardAtMs = Date.now();
  switch (body.case) {
    case 'welcome':
      if (a.fullEvery > 1) a.fullEvery = body.value.fullStatusEvery ?? 1;
      a.ackAfterMs = ackAfterMs(body.value.heartbeatMs, body.value.leaseMs);
      joined();
      return;
    case 'ack': {
      if (body.value.wantFull === true) a.fullNext = true;
      // An Ack answers its own seq and every earlier one (the allocator acks after a quiet spell,
      // not every Status); the round trip is timed for the seq it names.
      const at = performance.now();
      for (const [seq, p] of a.pending) {
        if (seq > body.value.seq) break;
        a.pending.delete(seq);
        if (!p[1]) continue;
        acked += 1;
        if (seq === body.value.seq) ackLatencyMs.push(Math.round((at - p[0]) * 100) / 100);
      }
      return;
    }
    case 'startPod': {
      const at = Date.now();
      starts.push([body.value.podId, at]);
      a.sim.pods.set(body.value.podId, {
        podId: body.value.podId,
        epoch: body.value.epoch,
        state: 'running',
        pid: 10_000 + a.sim.pods.size,
        exitCode: null,
        signal: null,
        reason: null,
        startedAtMs: at,
      });
      // The changed pod goes out in a full Status (a real agent's delta would carry just this pod).
      a.template = null;
      a.fullNext = true;
      return;
    }
    case 'stopPod':
      a.sim.pods.delete(body.value.podId);
      a.template = null;
      a.fullNext = true;
      return;
    default:
      return;
  }
}

/** Opens one agent's socket; resolves with null once joined, or the reason it did not. */
function connect(
  a: Agent,
  index: number,
  cmd: Extract<FleetCommand, { type: 'start' }>,
): Promise<string | null> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (why: string | null) => {
      if (settled) return;
      settled = true;
      resolve(why);
    };
    const ws = new WebSocket(cmd.url, {
      ...WS_OPTIONS,
      headers: { authorization: `Bearer ${cmd.token}` },
      // An all-zero mask, which ws then skips applying: the load generator shares the server's two
      // cores, and XORing every frame it sends is work no server-side figure should pay for. The
      // server still unmasks (with zeros), the allocator and the bare server alike.
      generateMask: () => {},
    });
    a.ws = ws;
    const joined = () => {
      if (settled) return;
      a.joined = true;
      settle(null);
      // Stagger: agent i sends at phase i/N of every heartbeat, as independent nodes drift apart.
      const phase = (index / cmd.totalAgents) * cmd.heartbeatMs;
      const wait = (phase - (Date.now() % cmd.heartbeatMs) + cmd.heartbeatMs) % cmd.heartbeatMs;
      a.timer = setTimeout(() => {
        sendStatus(a);
        a.timer = setInterval(() => sendStatus(a), cmd.heartbeatMs);
      }, wait);
    };
    ws.on('open', () => {
      ws.send(helloBytes(a.sim, cmd.token));
      if (!cmd.awaitWelcome) joined();
    });
    ws.on('message', (data: Buffer) => onMessage(a, data, joined));
    // EMFILE / ECONNRESET arrive here; the message names the cause for the parent's report.
    ws.on('error', (e: NodeJS.ErrnoException) => settle(e.code ?? e.message));
    ws.on('unexpected-response', (_req, res) => settle(`upgrade answered HTTP ${res.statusCode}`));
    ws.on('close', (code) => {
      closes[code] = (closes[code] ?? 0) + 1;
      if (a.timer !== null) clearInterval(a.timer);
      settle(`closed ${code} before joining`);
    });
  });
}

async function start(cmd: Extract<FleetCommand, { type: 'start' }>): Promise<FleetReply> {
  for (let i = 0; i < cmd.agents; i += 1) {
    const sim = simNode(cmd.firstIndex + i);
    padTo(sim, cmd.frameBytes);
    agents.push({
      sim,
      ws: null,
      joined: false,
      seq: SEQ_BASE,
      pending: new Map(),
      template: null,
      deltaTemplate: null,
      fullEvery: cmd.fullStatusEvery,
      sinceFull: 0,
      fullNext: true,
      timer: null,
      // Until a Welcome says otherwise (the bare server sends none), every Status asks.
      heardAtMs: 0,
      ackAfterMs: 0,
    });
  }
  const errors = new Map<string, number>();
  let next = 0;
  let failed = 0;
  const lane = async () => {
    for (let i = next++; i < agents.length; i = next++) {
      const why = await connect(agents[i]!, cmd.firstIndex + i, cmd);
      if (why === null) continue;
      failed += 1;
      errors.set(why, (errors.get(why) ?? 0) + 1);
    }
  };
  const lanes = Promise.all(Array.from({ length: Math.max(1, cmd.connectConcurrency) }, lane));
  // A server that cannot take the join storm must show up as a figure, not as a bench that hangs.
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(true), cmd.joinTimeoutMs);
  });
  const timedOut = await Promise.race([lanes.then(() => false), late]);
  clearTimeout(timer);
  const joined = agents.filter((a) => a.joined).length;
  if (timedOut) errors.set(`not joined within ${cmd.joinTimeoutMs} ms`, agents.length - failed - joined);
  const sample = agents[0];
  return {
    type: 'joined',
    joined,
    failed: agents.length - joined,
    errors: [...errors].map(([why, n]) => `${n} x ${why}`),
    statusBytes: sample === undefined ? 0 : statusBytes(sample.sim, SEQ_BASE, Date.now()).byteLength,
  };
}

function report(): FleetReply {
  const cpu = process.cpuUsage(windowCpu);
  return {
    type: 'report',
    sent,
    acked,
    ackLatencyMs,
    starts: starts.splice(0),
    open: agents.filter((a) => a.ws?.readyState === WebSocket.OPEN).length,
    closes: { ...closes },
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

function reply(m: FleetReply): void {
  process.send?.(m);
}

// An orphaned fleet would keep thousands of sockets and timers going: leave with the parent.
process.on('disconnect', () => process.exit(0));

process.on('message', (m: FleetCommand) => {
  switch (m.type) {
    case 'start':
      void start(m).then(reply);
      return;
    case 'window-start':
      windowCpu = process.cpuUsage();
      sent = 0;
      acked = 0;
      ackLatencyMs = [];
      windowOpen = true;
      return;
    case 'window-end':
      windowOpen = false;
      return;
    case 'report':
      reply(report());
      return;
    case 'stop':
      for (const a of agents) {
        if (a.timer !== null) clearInterval(a.timer);
        a.ws?.terminate();
      }
      process.disconnect?.();
      setTimeout(() => process.exit(0), 100).unref();
      return;
  }
});
