/**
 * What the runner reads from /proc: a process's identity (pid + start time, so a recycled pid is not
 * mistaken for our pod), its process group, and the members of a group. Linux only, like the agent.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** The fields of /proc/<pid>/stat the agent uses. */
export interface ProcStat {
  pid: number;
  comm: string;
  /** One letter: R running, S sleeping, T stopped, Z zombie, ... */
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** User and system CPU time in clock ticks (fields 14, 15). */
  utimeTicks: number;
  stimeTicks: number;
  /** Field 22: when the process started, in clock ticks since boot; fixed for its whole life. */
  startTimeTicks: number;
}

/**
 * Parses one /proc/<pid>/stat line. The command name (field 2) is in parentheses and may itself hold
 * spaces and parentheses (`(a) b (c)`), so it runs from the first '(' to the LAST ')': everything
 * after that is space-separated numbers the kernel writes. Returns null on anything else.
 */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // rest[0] is field 3 (state), so field n is rest[n - 3].
  const field = (n: number): number => Number(rest[n - 3]);
  const state = rest[0] ?? '';
  const stat: ProcStat = {
    pid,
    comm: text.slice(open + 1, close),
    state,
    ppid: field(4),
    pgrp: field(5),
    session: field(6),
    utimeTicks: field(14),
    stimeTicks: field(15),
    startTimeTicks: field(22),
  };
  const numbers = [pid, stat.ppid, stat.pgrp, stat.session, stat.utimeTicks, stat.stimeTicks];
  if (!/^[A-Za-z]$/.test(state) || ![...numbers, stat.startTimeTicks].every(Number.isSafeInteger)) {
    return null;
  }
  return stat;
}

/** Reads and parses /proc/<pid>/stat; null when the process does not exist (or the file is odd). */
export function readProcStat(pid: number, procRoot = '/proc'): ProcStat | null {
  try {
    return parseProcStat(readFileSync(`${procRoot}/${pid}/stat`, 'utf8'));
  } catch {
    // ENOENT / ESRCH: the process is gone, which is an answer, not an error.
    return null;
  }
}

/** A process's start time (field 22 of /proc/<pid>/stat, clock ticks since boot); null when gone. */
export function processStartTime(pid: number, procRoot = '/proc'): number | null {
  return readProcStat(pid, procRoot)?.startTimeTicks ?? null;
}

/** True when `pid` still names the process that started at `startTimeTicks` (false after PID reuse). */
export function isSameProcess(pid: number, startTimeTicks: number, procRoot = '/proc'): boolean {
  return processStartTime(pid, procRoot) === startTimeTicks;
}

/**
 * True when `pid` is the same process and not a zombie. A zombie has exited and holds no memory or
 * GPU context; counting it as alive would make a stop wait on a parent that never reaps it (an
 * adopted pod's parent is whatever PID 1 the host has, and not every PID 1 reaps).
 */
export function isLiveProcess(pid: number, startTimeTicks: number, procRoot = '/proc'): boolean {
  const stat = readProcStat(pid, procRoot);
  return stat !== null && stat.startTimeTicks === startTimeTicks && stat.state !== 'Z';
}

/** Every live (non-zombie) process whose process group is `pgid`, read from /proc; sorted. */
export function groupPids(pgid: number, procRoot = '/proc'): number[] {
  let names: string[];
  try {
    names = readdirSync(procRoot);
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProcStat(Number(name), procRoot);
    if (stat !== null && stat.pgrp === pgid && stat.state !== 'Z') pids.push(stat.pid);
  }
  return pids.sort((a, b) => a - b);
}

/**
 * Whether any live process is left in group `pgid`. `kill(-pgid, 0)` answers "none" cheaply;
 * when it says "some", /proc decides, because zombies count for kill but not for us.
 */
export function groupAlive(pgid: number, procRoot = '/proc'): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    if (errnoOf(e) === 'ESRCH') return false;
  }
  return groupPids(pgid, procRoot).length > 0;
}

/** Sends `signal` to every process in group `pgid`; false when the group is already empty. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  // pgid <= 1 would address our own group or every process we may signal: never a pod.
  if (!Number.isSafeInteger(pgid) || pgid <= 1) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (e) {
    if (errnoOf(e) === 'ESRCH') return false;
    throw e;
  }
}

/** The `code` of a Node system error (`ENOENT`, `ESRCH`, ...), or undefined. */
export function errnoOf(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string') return e.code;
  return undefined;
}

/** One variable of a process's initial environment (/proc/<pid>/environ); undefined if unreadable. */
export function processEnvVar(pid: number, name: string, procRoot = '/proc'): string | undefined {
  let raw: string;
  try {
    raw = readFileSync(`${procRoot}/${pid}/environ`, 'utf8');
  } catch {
    // Gone, or another user's process while the agent is not root.
    return undefined;
  }
  const prefix = `${name}=`;
  for (const entry of raw.split('\0')) {
    if (entry.startsWith(prefix)) return entry.slice(prefix.length);
  }
  return undefined;
}

/**
 * SIGKILLs the live members of group `pgid` whose environment carries `tags` (e.g. TESSERA_POD_ID and
 * TESSERA_EPOCH), one by one, and returns their pids. For a group whose leader died unobserved: its
 * pgid could in principle have been recycled since, so membership alone is not proof it is ours.
 */
export function killTaggedGroupMembers(pgid: number, tags: Readonly<Record<string, string>>): number[] {
  const killed: number[] = [];
  for (const p of groupPids(pgid)) {
    if (!Object.entries(tags).every(([k, v]) => processEnvVar(p, k) === v)) continue;
    try {
      process.kill(p, 'SIGKILL');
      killed.push(p);
    } catch {
      // Gone meanwhile: nothing to do.
    }
  }
  return killed;
}
