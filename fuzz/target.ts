/**
 * The system under fuzz: `tessera allocator` as its own process (bin/tessera.js) on 127.0.0.1 port 0
 * in a temp dir, so a crash is an exit the fuzzer sees rather than its own death, and one sim agent
 * started afterwards to show the cluster still places work.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const TESSERA = join(REPO, 'bin/tessera.js');
const MAX_OUTPUT_CHARS = 400_000;

/** A child process with its output kept (the tail, when it is long) and its error log lines counted. */
export class Child {
  readonly proc: ChildProcess;
  exit: { code: number | null; signal: string | null } | null = null;
  readonly exited: Promise<void>;
  /** How many log lines at level error it wrote, and the first few of them. */
  errorLines = 0;
  readonly firstErrorLines: string[] = [];
  private out = '';
  private partial = '';

  constructor(args: string[]) {
    this.proc = spawn(process.execPath, [TESSERA, ...args], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TESSERA_URL: '', TESSERA_TOKEN: '', TESSERA_JOIN_TOKEN: '' },
    });
    const keep = (c: Buffer) => {
      this.out += c.toString('utf8');
      if (this.out.length > MAX_OUTPUT_CHARS) this.out = this.out.slice(-MAX_OUTPUT_CHARS / 2);
    };
    this.proc.stdout?.on('data', keep);
    this.proc.stderr?.on('data', (c: Buffer) => {
      keep(c);
      const lines = (this.partial + c.toString('utf8')).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.includes('"level":"error"')) continue;
        this.errorLines += 1;
        if (this.firstErrorLines.length < 10) this.firstErrorLines.push(line.slice(0, 4000));
      }
    });
    this.exited = new Promise((resolve) =>
      this.proc.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      }),
    );
  }

  get alive(): boolean {
    return this.exit === null;
  }

  output(): string {
    return this.out;
  }

  /** SIGTERM, SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.exit !== null) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** A running allocator: its URL, tokens and process. */
export interface Target {
  dir: string;
  url: string;
  adminToken: string;
  joinToken: string;
  allocator: Child;
  /** Starts a sim agent named `node` with one GPU, linked to the allocator. */
  startAgent(node: string): Child;
  /** Stops every process and removes the temp dir. */
  close(): Promise<void>;
}

async function until<T>(what: string, timeoutMs: number, probe: () => T | null): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts `tessera allocator` in a fresh temp dir and waits until it listens. */
export async function startTarget(logLevel: string): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-fuzz-'));
  const data = join(dir, 'allocator');
  const args = ['allocator', '--data', data, '--host', '127.0.0.1', '--port', '0', '--lease', '3s'];
  const allocator = new Child([...args, '--heartbeat', '500ms', '--log-level', logLevel]);
  const agents: Child[] = [];
  const info = join(data, 'allocator.json');
  const url = await until('the allocator to listen', 30_000, () => {
    if (!allocator.alive) throw new Error(`allocator exited before listening:\n${allocator.output()}`);
    if (!existsSync(info)) return null;
    const v = JSON.parse(readFileSync(info, 'utf8')) as { url?: unknown };
    return typeof v.url === 'string' ? v.url : null;
  });
  return {
    dir,
    url,
    adminToken: readFileSync(join(data, 'admin-token'), 'utf8').trim(),
    joinToken: readFileSync(join(data, 'join-token'), 'utf8').trim(),
    allocator,
    startAgent(node) {
      const base = join(dir, 'nodes', node);
      const agent = new Child([
        'agent',
        '--gpu',
        'sim',
        '--sim-gpus',
        '1xH100-80GB',
        '--data',
        join(base, 'data'),
        '--allocator',
        url,
        '--token',
        readFileSync(join(data, 'join-token'), 'utf8').trim(),
        '--node',
        node,
        '--sample-interval',
        '250ms',
      ]);
      agents.push(agent);
      return agent;
    },
    async close() {
      await Promise.all(agents.map((a) => a.stop()));
      await allocator.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
