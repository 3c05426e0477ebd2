/**
 * Websockets through `/serve/P/W/`: an HTTP upgrade on that path is checked as the proxy checks a
 * request (access.ts), then its bytes are piped to one ready replica over TCP, the request head
 * rewritten (path below the prefix, no Authorization). Jupyter's kernels and VS Code's server talk
 * over websockets, so a workspace needs this. The agents' link owns its own upgrade path and leaves
 * every other one to the handlers beside it (link/server.ts).
 */
import { type IncomingMessage, type Server, STATUS_CODES } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { httpStatusOf } from '../../common/errors.ts';
import { ApiError } from '../api/errors.ts';
import { readyTargets, restOf, SERVE_PREFIX, type ServeProxyOptions, servedWorkload } from './proxy-route.ts';

/** An HTTP error answer on a socket that never became a websocket. */
function refuse(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ error: { message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** The request head for the replica: the path below the prefix, every header but Authorization. */
function headFor(req: IncomingMessage, path: string, prefix: string): string {
  const lines = [`${req.method ?? 'GET'} ${path} HTTP/1.1`];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] ?? '';
    if (name.toLowerCase() === 'authorization') continue;
    lines.push(`${name}: ${req.rawHeaders[i + 1] ?? ''}`);
  }
  lines.push(`X-Forwarded-Prefix: ${prefix}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Handles websocket upgrades under /serve on `server`; returns the function that removes the handler. */
export function attachServeUpgrades(server: Server, options: ServeProxyOptions): () => void {
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = req.url ?? '/';
    if (!url.startsWith(`${SERVE_PREFIX}/`)) return;
    const [, , project = '', name = ''] = (url.split('?')[0] ?? '').split('/');
    // A refused socket must still be answered; any throw below becomes its HTTP error.
    void (async () => {
      try {
        const w = servedWorkload(
          options.access.db,
          options.access,
          req.headers.authorization,
          decodeURIComponent(project),
          decodeURIComponent(name),
        );
        let closed = false;
        socket.on('close', () => {
          closed = true;
        });
        const targets = await readyTargets(w, options, () => closed);
        const target = targets?.[Math.floor(Math.random() * targets.length)];
        if (target === undefined) return refuse(socket, 503, `workload ${w.name} has no ready replica`);
        const { hostname, port } = new URL(target.base);
        const q = url.indexOf('?');
        const path = `/${restOf(url)}${q < 0 ? '' : url.slice(q)}`;
        const upstream = connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port) }, () => {
          upstream.write(headFor(req, path, `${SERVE_PREFIX}/${project}/${name}`));
          if (head.length > 0) upstream.write(head);
          upstream.pipe(socket).pipe(upstream);
        });
        const end = options.scaler.meter(w.id).begin(Date.now());
        const close = () => {
          end(Date.now());
          upstream.destroy();
          socket.destroy();
        };
        upstream.on('error', close);
        socket.on('error', close);
        socket.on('close', close);
        upstream.on('close', close);
      } catch (e) {
        const status = e instanceof ApiError ? httpStatusOf(e.error.code) : 500;
        refuse(socket, status, e instanceof Error ? e.message : String(e));
      }
    })();
  };
  server.on('upgrade', onUpgrade);
  return () => server.off('upgrade', onUpgrade);
}
