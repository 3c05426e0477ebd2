/**
 * Puts fuzzed requests on the wire and says what came back: a status, `hang` (no answer within the
 * deadline) or `reset` (the connection closed without an answer). Node's http client sends the path
 * as given, so escapes good and bad reach the server unchanged; raw.ts goes below even that.
 */
import { Agent, request } from 'node:http';
import type { HttpInput } from './http-input.ts';

/** What one request got. */
export type Outcome =
  | { kind: 'status'; status: number; body: string }
  | { kind: 'hang' }
  | { kind: 'reset'; error: string };

/** A keep-alive sender to `base` (`http://127.0.0.1:PORT`) with a per-request deadline. */
export function httpSender(base: string, deadlineMs: number, sockets: number) {
  const url = new URL(base);
  const agent = new Agent({ keepAlive: true, maxSockets: sockets });
  return {
    send(input: HttpInput): Promise<Outcome> {
      return new Promise((resolve) => {
        let done = false;
        const finish = (o: Outcome) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          resolve(o);
        };
        const body = input.body === null ? null : Buffer.from(input.body, 'utf8');
        const headers: Record<string, string | number> = { ...input.headers };
        if (body !== null) headers['content-length'] = body.byteLength;
        let req: ReturnType<typeof request>;
        try {
          req = request({
            agent,
            host: url.hostname,
            port: url.port,
            method: input.method,
            path: input.path,
            headers,
          });
        } catch (e) {
          // The client refused to send it (a character it will not put in a request line).
          resolve({ kind: 'reset', error: `not sent: ${e instanceof Error ? e.message : String(e)}` });
          return;
        }
        const timer = setTimeout(() => {
          finish({ kind: 'hang' });
          req.destroy();
        }, deadlineMs);
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          let kept = 0;
          res.on('data', (c: Buffer) => {
            // Only the start of a body is ever read (to show a 5xx); the rest is drained.
            if (kept < 4096) {
              chunks.push(c);
              kept += c.byteLength;
            }
          });
          res.on('end', () =>
            finish({
              kind: 'status',
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          res.on('error', (e) => finish({ kind: 'reset', error: e.message }));
        });
        req.on('error', (e) => finish({ kind: 'reset', error: e.message }));
        req.end(body ?? undefined);
      });
    },
    close(): void {
      agent.destroy();
    },
  };
}
