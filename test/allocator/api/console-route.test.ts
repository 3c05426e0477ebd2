import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { CONSOLE_DIR, registerConsole } from '../../../allocator/api/console-route.ts';
import { installErrorHandlers } from '../../../allocator/api/errors.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(dir: string): Promise<FastifyInstance> {
  const app = Fastify();
  installErrorHandlers(app);
  registerConsole(app, dir);
  app.get('/healthz', async () => ({ status: 'ok' }));
  await app.ready();
  cleanups.push(() => app.close());
  return app;
}

function consoleDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-console-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'pages'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Tessera</title>');
  writeFileSync(join(dir, 'app.js'), 'export {};');
  writeFileSync(join(dir, 'pages', 'overview.js'), 'export {};');
  writeFileSync(join(dir, 'style.css'), 'body {}');
  writeFileSync(join(dir, 'tsconfig.json'), '{}');
  return dir;
}

describe('the web console route', () => {
  it('serves index.html at / and every module at its path, with a strict CSP and revalidation', async () => {
    const app = await serve(consoleDir());
    const index = await app.inject({ url: '/' });
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toContain('text/html');
    expect(index.body).toContain('<title>Tessera</title>');
    expect(index.headers['content-security-policy']).toContain("script-src 'self'");
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(index.headers.etag).toBeDefined();

    const js = await app.inject({ url: '/pages/overview.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect((await app.inject({ url: '/style.css' })).headers['content-type']).toContain('text/css');
  });

  it('answers an unknown path and the type-check config with the API 404, leaving other routes alone', async () => {
    const app = await serve(consoleDir());
    for (const url of ['/tsconfig.json', '/nope.js', '/../package.json', '/pages/../../etc/passwd']) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json(), url).toMatchObject({ error: { code: 'TESSERA_E_NOT_FOUND' } });
    }
    expect((await app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
  });

  it('ships the console in this package', () => {
    expect(existsSync(join(CONSOLE_DIR, 'index.html'))).toBe(true);
  });
});
