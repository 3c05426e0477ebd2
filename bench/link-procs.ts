/**
 * Processes and hooks of the link benchmark (bench/link.ts): its fleet and bare-server children
 * over IPC, a CPU profile of this process over a window, the open-file limit, and the allocator
 * service loaded only when allocator/main.ts exists.
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';
import type { AllocatorOptions, RunningAllocator } from '../allocator/service/types.ts';
import type { FleetCommand, FleetReply } from './link-fleet.ts';

/** Agents send Status this often in the benchmark (the allocator's default is 2000). */
export const HEARTBEAT_MS = 1000;

/** The allocator service's entry point. */
export type StartAllocator = (options: AllocatorOptions) => Promise<RunningAllocator>;

/** Starts the V8 profiler of this process (the allocator's) through the inspector. */
export async function startProfile(): Promise<Session> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return session;
}

export async function stopProfile(session: Session, file: string): Promise<void> {
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(file, JSON.stringify(profile));
  session.disconnect();
  console.log(`link: CPU profile of the window in ${file}`);
}

/** Starts a bench child over IPC; under TypeScript sources it loads tsx first, as the CLI does. */
export function child(file: string): ChildProcess {
  const url = new URL(`./${file}${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
  const execArgv = url.href.endsWith('.ts') ? ['--import', import.meta.resolve('tsx/esm')] : [];
  // 'advanced' (structured clone) carries the latency arrays faster than JSON.
  return fork(fileURLToPath(url), [], { execArgv, serialization: 'advanced', stdio: 'inherit' });
}

/** Sends `cmd` (if any) and waits for the child's next message of `type`. */
export function ask<T extends { type: string }>(c: ChildProcess, type: T['type'], cmd?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) =>
      reject(new Error(`bench child exited (${code}) awaiting ${type}`));
    const onMessage = (m: T) => {
      if (m.type !== type) return;
      c.off('message', onMessage);
      c.off('exit', onExit);
      resolve(m);
    };
    c.on('message', onMessage);
    c.once('exit', onExit);
    if (cmd !== undefined) c.send(cmd);
  });
}

export type Joined = Extract<FleetReply, { type: 'joined' }>;
export type Report = Extract<FleetReply, { type: 'report' }>;

/** ceil(agents / perFleet) fleet processes, all joined to `url`. */
export async function startFleets(
  url: string,
  token: string,
  agents: number,
  perFleet: number,
  frameBytes: number,
  awaitWelcome: boolean,
  joinTimeoutMs: number,
  fullStatusEvery: number,
): Promise<{ fleets: ChildProcess[]; joined: Joined[]; joinS: number }> {
  const t0 = performance.now();
  const fleets: ChildProcess[] = [];
  const waits: Promise<Joined>[] = [];
  for (let first = 0; first < agents; first += perFleet) {
    const c = child('link-fleet');
    fleets.push(c);
    const cmd: FleetCommand = {
      type: 'start',
      url,
      token,
      agents: Math.min(perFleet, agents - first),
      firstIndex: first,
      totalAgents: agents,
      heartbeatMs: HEARTBEAT_MS,
      frameBytes,
      awaitWelcome,
      joinTimeoutMs,
      connectConcurrency: 64,
      fullStatusEvery,
    };
    waits.push(ask<Joined>(c, 'joined', cmd));
  }
  const joined = await Promise.all(waits);
  for (const j of joined)
    if (j.errors.length > 0) console.log(`  link: join failures: ${j.errors.join('; ')}`);
  return { fleets, joined, joinS: (performance.now() - t0) / 1000 };
}

export async function reports(fleets: readonly ChildProcess[]): Promise<Report[]> {
  return Promise.all(fleets.map((f) => ask<Report>(f, 'report', { type: 'report' })));
}

export async function stopFleets(fleets: readonly ChildProcess[]): Promise<void> {
  const one = (f: ChildProcess) =>
    new Promise((resolve) => {
      if (f.exitCode !== null) return resolve(null);
      f.once('exit', resolve);
      f.send({ type: 'stop' } satisfies FleetCommand);
    });
  await Promise.all(fleets.map(one));
}

export function broadcast(fleets: readonly ChildProcess[], cmd: FleetCommand): void {
  for (const f of fleets) f.send(cmd);
}

/** The open-file limit children inherit; each agent costs the server one descriptor. */
export function openFileLimit(): number {
  try {
    const v = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
    return v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v);
  } catch {
    return Number.NaN;
  }
}

/** `allocator/main.ts` when it exists (it is written separately), else null. */
export async function loadAllocator(): Promise<StartAllocator | null> {
  const url = new URL(`../allocator/main${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
  if (!existsSync(fileURLToPath(url))) return null;
  const mod: unknown = await import(url.href);
  const start = (mod as { startAllocator?: unknown }).startAllocator;
  if (typeof start !== 'function') throw new Error('allocator/main.ts does not export startAllocator()');
  return start as StartAllocator;
}
