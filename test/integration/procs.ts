/**
 * Processes as the tests see them: a child process with its output kept (allocator, agent), and
 * /proc lookups for the pods the agents start (detached, so found by their environment) and the
 * GPU memory they hold in a node's sim state.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const TESSERA = join(REPO, 'bin/tessera.js');

/** Keeps this much of each process's output; the tail is what explains a failure. */
const MAX_OUTPUT_CHARS = 200_000;

/** Whether `pid` is a live process (not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The environment of process `pid` (empty when it is gone or not ours). */
export function environOf(pid: number): Map<string, string> {
  const env = new Map<string, string>();
  try {
    for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
      const eq = kv.indexOf('=');
      if (eq > 0) env.set(kv.slice(0, eq), kv.slice(eq + 1));
    }
  } catch {
    // Gone, or not ours.
  }
  return env;
}

/**
 * Live processes of one test cluster: pods (their JOURNAL or TESSERA_SIM_STATE lies under `root`)
 * and helpers an agent starts, such as its fence guard (a path under `root` on their command line).
 */
export function processesUnder(root: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const env = environOf(pid);
    const journal = env.get('JOURNAL') ?? '';
    const sim = env.get('TESSERA_SIM_STATE') ?? '';
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      // Gone.
    }
    const ours = journal.startsWith(root) || sim.startsWith(root) || cmdline.includes(root);
    if (ours && pid !== process.pid && alive(pid)) out.push(pid);
  }
  return out;
}

/** SIGKILLs `pid`'s process group and `pid` itself, whichever exist. */
export function killGroup(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGCONT');
      process.kill(target, 'SIGKILL');
    } catch {
      // Not a group leader, or gone.
    }
  }
}

/** One live registration of GPU memory in a node's sim state, with the pod it belongs to. */
export interface GpuUse {
  node: string;
  pid: number;
  /** The workload's name (TESSERA_WORKLOAD in the process's environment). */
  workload: string;
  podId: string;
  epoch: number;
  gpuUuid: string;
  usedMemoryMiB: number;
}

/** Live GPU registrations in the sim state dir `simDir` of `node`, each with its pod. */
export function gpuUseIn(node: string, simDir: string): GpuUse[] {
  const procs = join(simDir, 'procs');
  if (!existsSync(procs)) return [];
  const out: GpuUse[] = [];
  for (const f of readdirSync(procs)) {
    if (!f.endsWith('.json')) continue;
    let reg: { pid?: number; gpuUuid?: string; usedMemoryMiB?: number; checkpointed?: boolean };
    try {
      reg = JSON.parse(readFileSync(join(procs, f), 'utf8')) as typeof reg;
    } catch {
      continue;
    }
    const pid = reg.pid;
    if (pid === undefined || !alive(pid) || reg.checkpointed === true) continue;
    const env = environOf(pid);
    out.push({
      node,
      pid,
      workload: env.get('TESSERA_WORKLOAD') ?? '',
      podId: env.get('TESSERA_POD_ID') ?? '',
      epoch: Number(env.get('TESSERA_EPOCH') ?? '0'),
      gpuUuid: reg.gpuUuid ?? '',
      usedMemoryMiB: reg.usedMemoryMiB ?? 0,
    });
  }
  return out;
}

/** One child process with its output kept. */
export class Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private out = '';

  /** `env` adds to (or overrides) the test runner's environment, in which TESSERA_URL / _TOKEN / _CA are cleared. */
  constructor(name: string, args: string[], env: Record<string, string> = {}) {
    this.name = name;
    this.child = spawn(process.execPath, [TESSERA, ...args], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TESSERA_URL: '', TESSERA_TOKEN: '', TESSERA_CA: '', ...env },
    });
    if (this.child.pid === undefined) throw new Error(`${name} did not start`);
    this.pid = this.child.pid;
    const keep = (chunk: Buffer) => {
      this.out += chunk.toString('utf8');
      if (this.out.length > MAX_OUTPUT_CHARS) this.out = this.out.slice(-MAX_OUTPUT_CHARS / 2);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  /** Everything it printed so far. */
  output(): string {
    return this.out;
  }

  /** Sends `signal` to the process itself (never its group). */
  signal(signal: NodeJS.Signals): void {
    if (this.exit !== null) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // Gone already.
    }
  }

  /** SIGKILL, resolved once it is reaped. */
  async kill(): Promise<void> {
    this.signal('SIGCONT');
    this.signal('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how it ended. */
  async stop(graceMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.signal('SIGCONT');
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    const r = await this.exited;
    clearTimeout(timer);
    return r;
  }
}
