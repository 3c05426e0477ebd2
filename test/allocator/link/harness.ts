/** A real HTTP server on port 0 with the agent link attached, and `ws` clients that speak frames. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import { WebSocket } from 'ws';
import { createJoinToken, memoryTokenStore, type TokenStore } from '../../../allocator/identity/index.ts';
import {
  type AgentLink,
  type AgentLinkOptions,
  attachAgentLink,
  type NodeChange,
} from '../../../allocator/link/server.ts';
import type { Db } from '../../../allocator/store/db.ts';
import {
  decodeFrame,
  encodeFrame,
  type Frame,
  type Hello,
  makeFrame,
  type WirePodState,
  type WirePodStatus,
  WS_OPTIONS,
} from '../../../common/wire.ts';
import { openTemp, T0 } from '../store/helpers.ts';

/** One running link under test, with a clock the test moves by hand. */
export interface Harness {
  db: Db;
  tokens: TokenStore;
  joinToken: string;
  link: AgentLink;
  url: string;
  clock: { ms: number };
  changes: NodeChange[];
  reports: { node: string; report: WirePodStatus }[];
}

const cleanups: (() => Promise<void>)[] = [];
const clients = new Set<WebSocket>();

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Starts a server on port 0 with the link attached; everything is closed after the test. */
export async function startLink(options: Partial<AgentLinkOptions> = {}): Promise<Harness> {
  const db = options.db ?? openTemp();
  const tokens = memoryTokenStore();
  const clock = { ms: T0 };
  const changes: NodeChange[] = [];
  const reports: Harness['reports'] = [];
  const server: Server = createServer((_req, res) => res.writeHead(404).end());
  const link = attachAgentLink(server, {
    db,
    tokens,
    leaseCheckMs: 0,
    now: () => clock.ms,
    onNodeChange: (c) => changes.push(c),
    onPodReport: (node, report) => reports.push({ node, report }),
    ...options,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const ws of clients) ws.terminate();
    clients.clear();
    await link.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  const url = `ws://127.0.0.1:${port}/api/v1/agents/connect`;
  return { db, tokens, joinToken: createJoinToken(tokens), link, url, clock, changes, reports };
}

/** A client of the link, its frames queued as they arrive. */
export interface Client {
  ws: WebSocket;
  /** The next frame from the allocator. */
  next(): Promise<Frame>;
  send(frame: Frame): void;
  /** Resolves with the close code and reason once the socket closes. */
  closed: Promise<{ code: number; reason: string }>;
}

/** Opens a websocket with `token` as bearer (none when undefined) and waits for it to open. */
export async function connect(url: string, token: string | undefined): Promise<Client> {
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const ws = new WebSocket(url, { ...WS_OPTIONS, headers });
  clients.add(ws);
  const frames: Frame[] = [];
  const waiters: ((f: Frame) => void)[] = [];
  ws.on('message', (data) => {
    const d = decodeFrame(data as Buffer);
    if (!d.ok) throw new Error(d.error.message);
    const w = waiters.shift();
    if (w === undefined) frames.push(d.value);
    else w(d.value);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    next: () => {
      const f = frames.shift();
      return f !== undefined ? Promise.resolve(f) : new Promise((resolve) => waiters.push(resolve));
    },
    send: (frame) => ws.send(encodeFrame(frame)),
    closed,
  };
}

/** The HTTP status of a refused upgrade, from ws's 'unexpected-response'. */
export function refusedStatus(url: string, token: string | undefined): Promise<number> {
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const ws = new WebSocket(url, { headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('upgrade was accepted')));
    ws.once('error', () => {});
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
  });
}

/** A Hello from `node` with one GPU. */
export function hello(node: string, runningPods: Hello['runningPods'] = []): Frame {
  return makeFrame({
    case: 'hello',
    value: {
      node,
      agentVersion: 'test',
      token: '',
      inventory: {
        gpus: [
          {
            uuid: `GPU-${node}-0`,
            index: 0,
            model: 'H100',
            memoryMiB: 81_920,
            migMode: 'disabled',
            healthy: true,
          },
        ],
        cpuMillis: 32_000,
        memoryMiB: 256_000,
        labels: { 'gpu.model': 'H100' },
        driverVersion: '550.54',
        cudaVersion: '12.4',
        network: null,
      },
      runningPods,
    },
  });
}

/** A Status carrying `podStates`. */
export function status(
  seq: number,
  podStates: { podId: string; epoch: number; state?: WirePodState; exitCode?: number }[] = [],
): Frame {
  return makeFrame({
    case: 'status',
    value: {
      seq,
      atMs: T0,
      gpuSamples: [],
      podStates: podStates.map((p) => ({
        podId: p.podId,
        epoch: p.epoch,
        state: p.state ?? 'running',
        pid: 1234,
        exitCode: p.exitCode ?? null,
        signal: null,
        reason: null,
        startedAtMs: null,
      })),
    },
  });
}

/** The node credential a Welcome carries; throws when it carries none. */
export function credentialOf(welcome: Frame): string {
  const cred = welcome.body.case === 'welcome' ? welcome.body.value.nodeCredential : null;
  if (cred === null) throw new Error(`no node credential in ${welcome.body.case}`);
  return cred;
}

/** Connects with `token`, says Hello as `node` and returns the client and its Welcome. */
export async function join(
  url: string,
  token: string,
  node: string,
): Promise<{ client: Client; welcome: Frame }> {
  const client = await connect(url, token);
  client.send(hello(node));
  // A refused Hello closes the socket: fail at once with its words instead of waiting for a frame.
  const welcome = await Promise.race([
    client.next(),
    client.closed.then(({ code, reason }) => {
      throw new Error(`the link closed the Hello of ${node} with ${code}: ${reason}`);
    }),
  ]);
  return { client, welcome };
}
