/**
 * A real PostgreSQL for tests: Debian's binaries (/usr/lib/postgresql/<newest>/bin, else `postgres`
 * on PATH; `.ci/run` installs the `postgresql` package), one server per caller in a temp dir,
 * listening on a Unix socket there only (no TCP port), trusting local connections. PostgreSQL
 * refuses to run as root, so under root it runs as the `postgres` user the package creates. initdb
 * runs once per machine into a cached template that each server copies (0.1 s instead of 1 s).
 * The packaged cluster service (port 5432) is never used.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** Where the server binaries are, or null when PostgreSQL is not installed. */
export function postgresBinDir(): string | null {
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => existsSync(join(debian, v, 'bin', 'postgres')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return join(debian, versions[0], 'bin');
  }
  for (const dir of (process.env.PATH ?? '').split(':'))
    if (dir !== '' && existsSync(join(dir, 'postgres')) && existsSync(join(dir, 'initdb'))) return dir;
  return null;
}

/** Why PostgreSQL tests are skipped here, or null when they can run. */
export const POSTGRES_MISSING: string | null =
  postgresBinDir() === null
    ? 'PostgreSQL is not installed (Debian: apt-get install postgresql; .ci/run installs it)'
    : null;

/** A running test server. */
export interface TestPostgres {
  /** `postgresql://postgres@localhost/postgres?host=<socket dir>`: its `postgres` database (over the socket). */
  url: string;
  /** The postmaster's pid. */
  pid: number;
  /** Shuts it down (fast: open sessions are ended) and removes its directory; safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILLs it (a crash) and removes its directory, synchronously. */
  kill(): void;
}

/** The user and group the server runs as: ours, or `postgres` when we are root. */
function serverUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/** A directory the server's user owns. */
function ownedDir(prefix: string, user: { uid: number; gid: number } | null): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (user !== null) execFileSync('chown', [`${user.uid}:${user.gid}`, dir]);
  return dir;
}

/** The initdb'd data directory every server copies, made once (racing makers: the first rename wins). */
function template(bin: string, user: { uid: number; gid: number } | null): string {
  const key = `${bin.replace(/\W+/g, '_')}-${Math.trunc(statSync(join(bin, 'postgres')).mtimeMs)}-${user?.uid ?? process.getuid?.()}`;
  const dir = join(tmpdir(), `tessera-pg-template-${key}`);
  if (existsSync(join(dir, 'PG_VERSION'))) return dir;
  const work = ownedDir('tessera-pg-initdb-', user);
  const data = join(work, 'data');
  execFileSync(
    join(bin, 'initdb'),
    ['-D', data, '--auth=trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'],
    { stdio: 'ignore', ...(user ?? {}) },
  );
  try {
    renameSync(data, dir);
  } catch {
    // Another worker made it first; theirs is as good.
  }
  rmSync(work, { recursive: true, force: true });
  return dir;
}

const running = new Set<ChildProcess>();
// A test worker that dies must not leave servers behind.
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

/** Starts a server; rejects with its log when it does not come up within `timeoutMs`. */
export async function startPostgres(timeoutMs = 30_000): Promise<TestPostgres> {
  const bin = postgresBinDir();
  if (bin === null) throw new Error(POSTGRES_MISSING ?? 'PostgreSQL is not installed');
  const user = serverUser();
  const source = template(bin, user);
  const dir = ownedDir('tessera-pg-', user);
  const data = join(dir, 'data');
  // -a keeps the server user's ownership and the 0700 PostgreSQL insists on.
  execFileSync('cp', ['-a', source, data]);
  const proc = spawn(
    join(bin, 'postgres'),
    [
      '-D',
      data,
      '-k',
      dir,
      '-c',
      'listen_addresses=',
      // Test data need not survive a power cut.
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=100',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], ...(user ?? {}) },
  );
  running.add(proc);
  let log = '';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`PostgreSQL did not start in ${timeoutMs} ms:\n${log}`)),
      timeoutMs,
    );
    proc.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('database system is ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`PostgreSQL exited with ${code} while starting:\n${log}`));
    });
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const remove = () => {
    running.delete(proc);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await ready;
  } catch (e) {
    proc.kill('SIGKILL');
    remove();
    throw e;
  }
  return {
    url: `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(dir)}`,
    pid: proc.pid as number,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGINT');
        await exited;
      }
      remove();
    },
    kill: () => {
      proc.kill('SIGKILL');
      remove();
    },
  };
}

/** Creates a fresh, empty database on the server `url` points at; its URL. */
export async function createDatabase(url: string): Promise<string> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}
