/**
 * The link benchmark's baseline (bench/link.ts): a bare `ws` server with the link's WS_OPTIONS on
 * an http server, run as its own child process so its CPU is measured alone. It does only what any
 * websocket server must do with these frames, decode each one, and records (receive time - atMs):
 * the floor the allocator's link is compared against (the target: at most 1.5x its CPU).
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { decodeFrame, WS_OPTIONS } from '../common/wire.ts';

/** What the parent sends. */
export type BareCommand = { type: 'window-start' } | { type: 'window-end' } | { type: 'stop' };

/** What the bare server answers. */
export type BareReply =
  | { type: 'listening'; port: number }
  | {
      type: 'window';
      /** CPU of this process over the window (user + system) and the window's length. */
      cpuMs: number;
      wallMs: number;
      rssMiB: number;
      frames: number;
      badFrames: number;
      connections: number;
      /** Receive time - Status.atMs per status in the window, ms. */
      latencyMs: number[];
    };

let windowOpen = false;
let frames = 0;
let badFrames = 0;
let latencyMs: number[] = [];
let cpuAt = process.cpuUsage();
let wallAt = performance.now();

const server = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ server, ...WS_OPTIONS });
wss.on('connection', (ws) => {
  // Without a listener a reset socket is thrown as an uncaught exception.
  ws.on('error', () => {});
  ws.on('message', (data: Buffer) => {
    const decoded = decodeFrame(data);
    if (!windowOpen) return;
    if (!decoded.ok) {
      badFrames += 1;
      return;
    }
    const body = decoded.value.body;
    if (body.case !== 'status') return;
    frames += 1;
    latencyMs.push(Date.now() - body.value.atMs);
  });
});

function reply(m: BareReply): void {
  process.send?.(m);
}

process.on('message', (m: BareCommand) => {
  switch (m.type) {
    case 'window-start':
      frames = 0;
      badFrames = 0;
      latencyMs = [];
      cpuAt = process.cpuUsage();
      wallAt = performance.now();
      windowOpen = true;
      return;
    case 'window-end': {
      windowOpen = false;
      const cpu = process.cpuUsage(cpuAt);
      reply({
        type: 'window',
        cpuMs: (cpu.user + cpu.system) / 1000,
        wallMs: performance.now() - wallAt,
        rssMiB: process.memoryUsage().rss / 1024 / 1024,
        frames,
        badFrames,
        connections: wss.clients.size,
        latencyMs,
      });
      return;
    }
    case 'stop':
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.close();
      process.disconnect?.();
      setTimeout(() => process.exit(0), 100).unref();
      return;
  }
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  reply({ type: 'listening', port: typeof address === 'object' && address !== null ? address.port : 0 });
});
