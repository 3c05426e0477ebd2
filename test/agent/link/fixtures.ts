/** A fake agent that records what the link asks of it, and an in-test allocator on port 0. */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { AgentEvent, AgentPodStatus, AgentStatus } from '../../../agent/api.ts';
import { zeroCounters } from '../../../agent/enforce/index.ts';
import type { LinkAgent } from '../../../agent/link/types.ts';
import type { PodSpec, PodStatus } from '../../../agent/runner/index.ts';
import { ok } from '../../../common/errors.ts';
import { createLogger } from '../../../common/log.ts';
import {
  decodeFrame,
  type Event,
  encodeFrame,
  type Frame,
  type FrameBody,
  type Hello,
  makeFrame,
  type Status,
  WS_OPTIONS,
} from '../../../common/wire.ts';

/** A logger that writes nowhere: the tests assert on behaviour, not log lines. */
export const quietLog = createLogger({ stream: { write: () => true } });

export function podStatus(
  podId: string,
  epoch: number,
  state: PodStatus['state'] = 'running',
  rescheduleAfterMs: number | null = null,
): AgentPodStatus {
  return {
    podId,
    epoch,
    state,
    pid: 4242,
    startTimeTicks: null,
    startedAtMs: 1000,
    exitCode: null,
    signal: null,
    reason: null,
    adopted: false,
    workload: 'w',
    project: 'p',
    priority: 0,
    grants: [],
    gpuMemoryUsedMiB: {},
    swappedOut: false,
    enforcing: false,
    rescheduleAfterMs,
  };
}

export interface FakeAgent extends LinkAgent {
  pods: Map<string, AgentPodStatus>;
  started: PodSpec[];
  stopped: { podId: string; reason: string; graceSeconds: number | undefined }[];
  swaps: { podId: string; direction: 'in' | 'out' }[];
  emit(e: Omit<AgentEvent, 'seq'>): void;
}

/** A fake agent with one GPU; startPod adds a running pod, stopPod ends it. */
export function fakeAgent(initial: AgentPodStatus[] = []): FakeAgent {
  const pods = new Map(initial.map((p) => [p.podId, p]));
  const listeners = new Set<(e: AgentEvent) => void>();
  let seq = 0;
  const a: FakeAgent = {
    pods,
    started: [],
    stopped: [],
    swaps: [],
    startPod(spec) {
      a.started.push(spec);
      const s = podStatus(spec.podId, spec.epoch, 'starting', spec.rescheduleAfterMs ?? null);
      pods.set(spec.podId, s);
      return ok(s);
    },
    async stopPod(podId, reason, graceSeconds) {
      a.stopped.push({ podId, reason, graceSeconds });
      const s = pods.get(podId) ?? podStatus(podId, 0);
      const ended = { ...s, state: 'exited' as const, reason };
      pods.set(podId, ended);
      return ok(ended);
    },
    async swap(podId, direction) {
      a.swaps.push({ podId, direction });
      return ok(true);
    },
    status: () => fakeStatus([...pods.values()]),
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    emit(e) {
      const event = { ...e, seq: ++seq };
      for (const fn of listeners) fn(event);
    },
  };
  return a;
}

export function fakeStatus(pods: AgentPodStatus[]): AgentStatus {
  return {
    atMs: 5000,
    agent: {
      pid: 1,
      version: '9.9.9',
      startedAtMs: 0,
      dataDir: '/tmp/x',
      sampleIntervalMs: 1000,
      lastSampleAtMs: 4000,
      lastSamplerError: null,
      port: null,
    },
    node: {
      hostname: 'h',
      os: 'linux',
      kernel: '6',
      arch: 'x64',
      cpuModel: 'c',
      cpuCores: 8,
      cpuPhysicalCores: 4,
      memoryTotalMiB: 65536,
    },
    driver: { kind: 'sim', driverVersion: '550.1', cudaVersion: '12.4' },
    gpus: [
      {
        index: 0,
        uuid: 'GPU-0',
        model: 'H100',
        memoryTotalMiB: 81920,
        memoryReservedMiB: null,
        migMode: 'disabled',
        sample: { atMs: 4000, utilizationPct: 37, memoryUsedMiB: 1024, temperatureC: 40, powerDrawW: 120 },
        podIds: [],
      },
    ],
    pods,
    swap: { enabled: false, capacityMiB: 0, usedMiB: 0, pods: [] },
    timeSlicing: null,
    counters: {
      ...zeroCounters(),
      samples: 0,
      samplerErrors: 0,
      events: 0,
    },
    allocator: 'not connected',
  };
}

export interface Conn {
  ws: WebSocket;
  req: IncomingMessage;
  frames: Frame[];
  closed: { code: number; reason: string } | null;
}

/**
 * An allocator stand-in: records every connection, its upgrade request and its decoded frames.
 * `refuse` answers an upgrade with HTTP 401 when it returns true for the Authorization header.
 */
export async function fakeAllocator(
  refuse: (authorization: string | undefined) => boolean = () => false,
): Promise<{
  url: string;
  conns: Conn[];
  /** The Authorization headers of refused upgrades, in order. */
  refusedAuth: string[];
  send(c: Conn, body: FrameBody): void;
  close(): Promise<void>;
}> {
  const refusedAuth: string[] = [];
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    ...WS_OPTIONS,
    verifyClient: (info, done) => {
      const refused = refuse(info.req.headers.authorization);
      if (refused) refusedAuth.push(info.req.headers.authorization ?? '');
      done(!refused, 401);
    },
  });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const conns: Conn[] = [];
  wss.on('connection', (ws, req) => {
    const c: Conn = { ws, req, frames: [], closed: null };
    conns.push(c);
    ws.on('error', () => {});
    ws.on('message', (data) => {
      const d = decodeFrame(data as Buffer);
      if (d.ok) c.frames.push(d.value);
    });
    ws.on('close', (code, reason) => {
      c.closed = { code, reason: reason.toString() };
    });
  });
  const port = (wss.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/api/v1/agents/connect`,
    conns,
    refusedAuth,
    send(c, body) {
      if (c.ws.readyState === WebSocket.OPEN) c.ws.send(encodeFrame(makeFrame(body)));
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The Hello, Status and Event bodies a connection received, in order. */
export const hellos = (c: Conn): Hello[] =>
  c.frames.flatMap((f) => (f.body.case === 'hello' ? [f.body.value] : []));
export const statuses = (c: Conn): Status[] =>
  c.frames.flatMap((f) => (f.body.case === 'status' ? [f.body.value] : []));
export const events = (c: Conn): Event[] =>
  c.frames.flatMap((f) => (f.body.case === 'event' ? [f.body.value] : []));
