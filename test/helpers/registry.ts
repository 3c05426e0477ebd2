/**
 * A private image registry for tests: Debian's `docker-registry` (distribution 2.8) as a child
 * process on 127.0.0.1, a free port, storage in a temp dir and htpasswd (bcrypt) auth, over plain
 * HTTP (podman talks to it with --tls-verify=false). The packaged service and its :5000 are not used.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { podmanOk } from './podman.ts';

/** Debian's package puts it here (`dpkg -L docker-registry`); TESSERA_REGISTRY_BIN overrides. */
export const REGISTRY_BIN = process.env.TESSERA_REGISTRY_BIN ?? '/usr/bin/docker-registry';

/** A running registry. */
export interface TestRegistry {
  /** `127.0.0.1:PORT`, the prefix of the references pushed to it. */
  address: string;
  username: string;
  password: string;
  /** The registry process, and the temp dir holding its config, htpasswd and storage (leak checks). */
  pid: number;
  dir: string;
  /** Pushes the local image `localImage` as `REPO:TAG`; the pushed reference, `ADDRESS/REPO:TAG`. */
  push(localImage: string, repoTag: string): Promise<string>;
  /** What the registry has logged so far (for a failing test's message). */
  logs(): string;
  /** Kills the registry and removes its storage; safe to call twice. */
  stop(): Promise<void>;
}

/** Options of startRegistry, with their defaults. */
export interface RegistryOptions {
  /** Default `tessera`. */
  username?: string;
  /** Default: 16 random hex characters. */
  password?: string;
  /** How long to wait for `GET /v2/` to answer; default 30 s (a loaded 2-core machine). */
  readyTimeoutMs?: number;
}

/** Another process taking the port between our probe and the registry's bind is retried this often. */
const PORT_ATTEMPTS = 5;
const MAX_LOG_CHARS = 100_000;

/** Starts a registry and waits until it answers; stop() it in afterAll. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const username = opts.username ?? 'tessera';
  const password = opts.password ?? randomBytes(8).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'tessera-registry-'));
  try {
    await execa('htpasswd', ['-B', '-b', '-c', join(dir, 'htpasswd'), username, password]);
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const started = await launch(dir, port, opts.readyTimeoutMs ?? 30_000);
      if (started.ok) return registry(started.proc, started.logs, dir, port, username, password);
      if (!started.addressInUse || attempt >= PORT_ATTEMPTS)
        throw new Error(
          `docker-registry did not start on 127.0.0.1:${port}: ${started.reason}\n${started.logs()}`,
        );
    }
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** A port nothing listens on this instant: the OS's pick for port 0, released again. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => (port > 0 ? resolve(port) : reject(new Error('no port from listen(0)'))));
    });
  });
}

type Launched =
  | { ok: true; proc: ResultPromise; logs: () => string }
  | { ok: false; addressInUse: boolean; reason: string; logs: () => string };

async function launch(dir: string, port: number, readyTimeoutMs: number): Promise<Launched> {
  // JSON is YAML, which is what the registry reads.
  const config = {
    version: 0.1,
    log: { level: 'info', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: join(dir, 'data') },
      delete: { enabled: true },
      // Its background purge of stale uploads has nothing to do in a test's lifetime.
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: { addr: `127.0.0.1:${port}`, secret: randomBytes(16).toString('hex') },
    auth: { htpasswd: { realm: 'tessera-test', path: join(dir, 'htpasswd') } },
  };
  const configPath = join(dir, `config-${port}.yml`);
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  let out = '';
  const proc = execa(REGISTRY_BIN, ['serve', configPath], {
    reject: false,
    stdin: 'ignore',
    all: true,
    buffer: false,
    // execa kills it if this process exits first: no registry outlives a crashed test worker.
    cleanup: true,
    forceKillAfterDelay: 5_000,
  });
  proc.all?.on('data', (chunk: Buffer) => {
    out = (out + chunk.toString('utf8')).slice(-MAX_LOG_CHARS);
  });
  let exited = false;
  void proc.then(() => {
    exited = true;
  });
  const logs = () => out;
  const deadline = Date.now() + readyTimeoutMs;
  const url = `http://127.0.0.1:${port}/v2/`;
  while (!exited && Date.now() < deadline) {
    const status = await fetch(url, { signal: AbortSignal.timeout(2_000) }).then(
      (r) => r.status,
      () => null,
    );
    // 401: up, and asking for credentials as configured.
    if (status === 401) return { ok: true, proc, logs };
    if (status !== null) {
      await kill(proc);
      return { ok: false, addressInUse: false, reason: `GET /v2/ answered ${status}, expected 401`, logs };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!exited) {
    await kill(proc);
    return { ok: false, addressInUse: false, reason: `not answering after ${readyTimeoutMs} ms`, logs };
  }
  const addressInUse = /address already in use/i.test(out);
  return { ok: false, addressInUse, reason: `exited (${(await proc).exitCode})`, logs };
}

async function kill(proc: ResultPromise): Promise<void> {
  proc.kill('SIGTERM');
  await proc;
}

function registry(
  proc: ResultPromise,
  logs: () => string,
  dir: string,
  port: number,
  username: string,
  password: string,
): TestRegistry {
  const address = `127.0.0.1:${port}`;
  let stopped: Promise<void> | undefined;
  return {
    address,
    username,
    password,
    pid: proc.pid ?? -1,
    dir,
    async push(localImage, repoTag) {
      const remote = `${address}/${repoTag}`;
      await podmanOk([
        'push',
        '--quiet',
        '--tls-verify=false',
        '--creds',
        `${username}:${password}`,
        localImage,
        remote,
      ]);
      return remote;
    },
    logs,
    stop() {
      stopped ??= kill(proc).then(() => rmSync(dir, { recursive: true, force: true }));
      return stopped;
    },
  };
}
