/**
 * A live API for CLI tests: a SQLite store in a temp dir, an admin user with its token and the
 * admin role on the cluster, listening on port 0, and `runCli` helpers. The env is stubbed so a test
 * never reads the developer's own ~/.config/tessera/config.json or ./tessera-data.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { vi } from 'vitest';
import { buildApi } from '../../allocator/api/index.ts';
import { createUserToken, memoryTokenStore, type TokenStore } from '../../allocator/identity/index.ts';
import { ensureAccess } from '../../allocator/store/access.ts';
import { type Db, openDb } from '../../allocator/store/db.ts';
import { sqliteTokenStore } from '../../allocator/store/tokens.ts';
import { type CliRun, runTessera } from '../cli-run.ts';

/** A running API and the ways to drive it. */
export interface LiveApi {
  dir: string;
  db: Db;
  tokens: TokenStore;
  app: FastifyInstance;
  url: string;
  /** The admin user's token. */
  admin: string;
  /** `tessera ARGS --url URL --token ADMIN` (the flags go before any `--`). */
  tessera(...args: string[]): Promise<CliRun>;
  /** `tessera ARGS` exactly as given. */
  run(...args: string[]): Promise<CliRun>;
  /** As `tessera`, with `stdin` as the command's standard input. */
  withStdin(stdin: string, ...args: string[]): Promise<CliRun>;
  close(): Promise<void>;
}

/** Starts the API; `configFile` is where TESSERA_CONFIG points (default: a file that does not exist). */
export async function startLiveApi(
  options: { prefix: string; tokens?: 'memory' | 'sqlite'; configFile?: (dir: string) => string } = {
    prefix: 'tessera-cli-',
  },
): Promise<LiveApi> {
  const dir = mkdtempSync(join(tmpdir(), options.prefix));
  vi.stubEnv('TESSERA_CONFIG', options.configFile?.(dir) ?? join(dir, 'no-config.json'));
  vi.stubEnv('TESSERA_DATA', join(dir, 'no-data'));
  vi.stubEnv('TESSERA_URL', '');
  vi.stubEnv('TESSERA_TOKEN', '');
  const db = openDb({ dataDir: dir });
  const tokens = options.tokens === 'sqlite' ? sqliteTokenStore(db) : memoryTokenStore();
  // The RBAC layer asks for an access rule: the admin role on the cluster.
  ensureAccess(db, 'admin', 'admin', 'cluster', 0);
  const admin = createUserToken(tokens, 'admin');
  const app = buildApi({ db, tokens });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    dir,
    db,
    tokens,
    app,
    url,
    admin,
    run: (...args) => runTessera(args),
    tessera: (...args) => runTessera(args, ['--url', url, '--token', admin]),
    withStdin: (stdin, ...args) => runTessera(args, ['--url', url, '--token', admin], stdin),
    async close() {
      await app.close();
      db.close();
      vi.unstubAllEnvs();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
