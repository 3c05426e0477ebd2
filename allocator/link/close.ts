/** How the link refuses and closes: HTTP answers to a refused upgrade, close codes and reasons that fit a close frame. */
import type { Duplex } from 'node:stream';
import { WS_CLOSE, type WsCloseCode } from '../../common/wire.ts';
import type { HelloRefusal } from '../identity/nodes.ts';

/** Largest close reason RFC 6455 allows (125-byte control frame minus the 2-byte code). */
export const MAX_REASON_BYTES = 123;

/** RFC 6455 "going away": the server is shutting down, the agent should reconnect later. */
export const GOING_AWAY = 1001;

/** RFC 6455 "internal error": this side failed on a valid frame; the agent should reconnect. */
export const INTERNAL_ERROR = 1011;

/** A close reason cut to what one close frame carries. */
export function clip(reason: string): string {
  const buf = Buffer.from(reason, 'utf8');
  if (buf.byteLength <= MAX_REASON_BYTES) return reason;
  // Cut on a character boundary: a split UTF-8 sequence makes the peer fail the close frame.
  let s = reason;
  while (Buffer.byteLength(s, 'utf8') > MAX_REASON_BYTES - 3) s = s.slice(0, -1);
  return `${s}...`;
}

/** The close reason for a name already registered: the way out first when both ways do not fit. */
export function nodeExistsReason(node: string): string {
  const full = `node ${node} is already registered; start its agent with DATA/node-credential.json, or admin: tessera node reset ${node}`;
  if (Buffer.byteLength(full, 'utf8') <= MAX_REASON_BYTES) return full;
  return `node ${node} is already registered; an admin may run: tessera node reset ${node}`;
}

/** The close code and reason a Hello refused for `r` is answered with. */
export function refusalClose(r: HelloRefusal, node: string): { code: WsCloseCode; reason: string } {
  if (r.kind === 'revoked')
    return {
      code: WS_CLOSE.unauthenticated,
      reason: 'this token was revoked or expired after the connection opened',
    };
  if (r.kind === 'other-node')
    return {
      code: WS_CLOSE.forbidden,
      reason: `this credential is for node ${r.credentialNode}, not ${node}`,
    };
  return { code: WS_CLOSE.nodeExists, reason: nodeExistsReason(node) };
}

/** Answers an upgrade with a plain HTTP status and drops the socket, as ws's abortHandshake does. */
export function refuseUpgrade(socket: Duplex, status: 401 | 404, text: string): void {
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
