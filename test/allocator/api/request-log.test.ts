import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApi } from '../../../allocator/api/index.ts';
import { openDb } from '../../../allocator/store/db.ts';
import { createLogger, type LogLevel } from '../../../common/log.ts';

type Line = Record<string, unknown>;
type ErrorBody = { error: { code: string; message: string; requestId?: string } };

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An API logging to an array at `level`, with one extra route that throws a plain Error. */
function loggedApi(level: LogLevel) {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-reqlog-'));
  const db = openDb({ dataDir: dir });
  const lines: Line[] = [];
  const log = createLogger({
    stream: { write: (l: string) => lines.push(JSON.parse(l) as Line) },
    level,
    fields: { component: 'allocator' },
  });
  const app = buildApi({ db, logger: log.pino });
  app.get('/boom', async () => {
    throw new Error('kaboom in a handler');
  });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => db.open && db.close());
  cleanups.push(() => app.close());
  return { app, db, lines };
}

describe('a 500', () => {
  it('is logged at error with its request id, method, url and stack; the body carries the same id', async () => {
    const { app, lines } = loggedApi('info');
    const res = await app.inject({ method: 'GET', url: '/boom?x=1' });
    expect(res.statusCode).toBe(500);
    const id = res.headers['x-request-id'];
    expect(typeof id).toBe('string');
    const body = res.json() as ErrorBody;
    expect(body.error).toEqual({
      code: 'TESSERA_E_INTERNAL',
      message: `kaboom in a handler (request id ${id})`,
      requestId: id,
    });
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      component: 'allocator',
      requestId: id,
      method: 'GET',
      url: '/boom?x=1',
      err: { name: 'Error', message: 'kaboom in a handler' },
    });
    const stack = String((errors[0]?.err as { stack?: unknown } | undefined)?.stack);
    expect(stack).toContain('kaboom in a handler');
    expect(stack).toContain('request-log.test.ts');
  });

  it('from /readyz keeps the database error as its cause', async () => {
    const { app, db, lines } = loggedApi('info');
    db.close();
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(500);
    const body = res.json() as ErrorBody;
    expect(body.error.requestId).toBe(res.headers['x-request-id']);
    const line = lines.find((l) => l.level === 'error');
    expect(line).toMatchObject({ requestId: body.error.requestId, url: '/readyz' });
    expect(JSON.stringify(line)).toContain('database connection is not open');
  });

  it('a 4xx carries no request id in its body and is not logged at error', async () => {
    const { app, lines } = loggedApi('info');
    const res = await app.inject({ method: 'GET', url: '/api/v1/nodes/nope' });
    expect(res.statusCode).toBe(404);
    expect((res.json() as ErrorBody).error.requestId).toBeUndefined();
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
  });
});

describe('request ids and request lines', () => {
  it('every response carries x-request-id, an unroutable URL too, each id its own', async () => {
    const { app } = loggedApi('info');
    const urls = [
      '/healthz',
      '/api/v1/nodes',
      '/api/v1/nope',
      '/api/v1/workloads/%E0',
      `/api/v1/nodes/${'x'.repeat(500)}`,
    ];
    const ids = new Set<string>();
    for (const url of urls) {
      const res = await app.inject({ method: 'GET', url });
      const id = res.headers['x-request-id'];
      expect(typeof id, url).toBe('string');
      ids.add(String(id));
      expect(res.statusCode, url).toBeLessThan(500);
      if (res.statusCode >= 400) expect(res.json(), url).toHaveProperty('error.code');
    }
    expect(ids.size).toBe(urls.length);
  });

  it('logs one line per request at debug, none at info', async () => {
    const quiet = loggedApi('info');
    await quiet.app.inject({ method: 'GET', url: '/healthz' });
    expect(quiet.lines).toEqual([]);

    const loud = loggedApi('debug');
    const res = await loud.app.inject({ method: 'GET', url: '/healthz' });
    expect(loud.lines).toEqual([
      expect.objectContaining({
        level: 'debug',
        msg: 'request',
        requestId: res.headers['x-request-id'],
        method: 'GET',
        url: '/healthz',
        statusCode: 200,
      }),
    ]);
  });
});
