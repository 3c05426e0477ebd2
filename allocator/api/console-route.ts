/**
 * The web console: the static files of web/ served at `/` as they are (plain
 * ES modules, no build step). The pages hold no secrets, so they need no token; everything they show
 * comes from /api/v1 with the token the user logs in with, under the same access rules as the CLI.
 */
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** Where the console's files live in this package. */
export const CONSOLE_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

// The console loads only its own files and talks only to its own origin; nothing inline runs.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

/** Serves the console's files from `dir` (default CONSOLE_DIR), `/` being its index.html. */
export function registerConsole(app: FastifyInstance, dir: string = CONSOLE_DIR): void {
  app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    // One route per file found at start: an unknown path stays the API's JSON 404, never a file lookup.
    wildcard: false,
    index: 'index.html',
    globIgnore: ['**/tsconfig.json', '**/*.md'],
    // Revalidate every load (etag): an upgraded allocator must never run a stale page against its API.
    cacheControl: false,
    setHeaders(res) {
      res.setHeader('cache-control', 'no-cache');
      res.setHeader('content-security-policy', CSP);
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('referrer-policy', 'no-referrer');
    },
  });
}
