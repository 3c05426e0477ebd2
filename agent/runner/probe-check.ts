/**
 * One readiness check against a pod on this node (pods listen on the host's network: processes
 * directly, containers with host networking): an HTTP GET or a TCP connect to 127.0.0.1:port, with
 * a deadline. Cheap by design: one connection per check, in this process, closed at once; no
 * keep-alive, so a pod's server sees exactly one short request per period.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import type { CheckResult } from './probe.ts';
import type { ProbeSpec } from './types.ts';

/** Where the checks connect: the node's loopback, where every pod's host port is reachable. */
export const PROBE_HOST = '127.0.0.1';

/** Runs one check of `spec` against `host`; never rejects: a failure is a result. */
export function runCheck(spec: ProbeSpec, host: string = PROBE_HOST): Promise<CheckResult> {
  return spec.kind === 'http' ? httpCheck(spec, host) : tcpCheck(spec, host);
}

/** Settles a check once: the first of answer, error and deadline wins, and the deadline is cleared. */
function once(timeoutMs: number, onTimeout: () => void) {
  let done = false;
  let finish: (r: CheckResult) => void = () => {};
  const result = new Promise<CheckResult>((resolve) => {
    finish = resolve;
  });
  let timer: NodeJS.Timeout | undefined;
  const settle = (r: CheckResult): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    finish(r);
  };
  timer = setTimeout(() => {
    settle({ ok: false, why: `no answer within ${timeoutMs} ms` });
    onTimeout();
  }, timeoutMs);
  return { result, settle };
}

const errorWhy = (e: Error & { code?: string }): string => e.code ?? e.message;

/** A GET of `spec.path`: 200-399 passes (as Kubernetes' httpGet), anything else fails. */
function httpCheck(spec: ProbeSpec, host: string): Promise<CheckResult> {
  const path = spec.path ?? '/';
  const where = `GET http://${host}:${spec.port}${path}`;
  const req = request({
    host,
    port: spec.port,
    path,
    method: 'GET',
    agent: false,
    headers: { 'user-agent': 'tessera-probe', connection: 'close' },
  });
  const { result, settle } = once(spec.timeoutMs, () => req.destroy());
  req.on('response', (res) => {
    const code = res.statusCode ?? 0;
    // The body is not read: drop it, and the connection with it.
    res.resume();
    res.destroy();
    const ok = code >= 200 && code < 400;
    settle({ ok, why: `${where} answered ${code}` });
  });
  req.on('error', (e) => settle({ ok: false, why: `${where}: ${errorWhy(e)}` }));
  req.end();
  return result;
}

/** A TCP connect to `spec.port`: an accepted connection passes. */
function tcpCheck(spec: ProbeSpec, host: string): Promise<CheckResult> {
  const where = `tcp ${host}:${spec.port}`;
  const socket = connect({ host, port: spec.port });
  const { result, settle } = once(spec.timeoutMs, () => socket.destroy());
  socket.on('connect', () => {
    socket.destroy();
    settle({ ok: true, why: `${where} accepted a connection` });
  });
  socket.on('error', (e) => settle({ ok: false, why: `${where}: ${errorWhy(e)}` }));
  return result;
}
