/**
 * A pod's cgroups: where its processes are counted, frozen (time-slicing) and killed as one, so a
 * `setsid` grandchild cannot outlive a stop, and where its memory, CPU and pid limits hold.
 *
 * Hosts come in three layouts, all handled: pure v2 (one hierarchy, `/sys/fs/cgroup`), v1 (one
 * hierarchy per controller), and the hybrid that many still run (v1 controllers plus an empty v2
 * hierarchy at `/sys/fs/cgroup/unified`). Where a v2 hierarchy exists, even one without
 * controllers, it is used for membership, `cgroup.freeze` and `cgroup.kill`, which act on the whole
 * subtree at once; v1's freezer is the fallback. Limits go wherever their controller is mounted.
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { err, ok, type Result, tesseraError } from '../../common/errors.ts';

/** The v1 controllers a pod uses. */
export type V1Controller = 'memory' | 'pids' | 'cpu' | 'freezer';
const V1_CONTROLLERS: readonly V1Controller[] = ['memory', 'pids', 'cpu', 'freezer'];

/** Where this host mounts its hierarchies. */
export interface CgroupLayout {
  mode: 'v2' | 'hybrid' | 'v1' | 'none';
  /** The v2 hierarchy's mount point, or null. */
  unified: string | null;
  /** The v1 mount point of each controller the host mounts. */
  v1: Partial<Record<V1Controller, string>>;
  /** Controllers the v2 hierarchy offers (`cgroup.controllers` of its root). */
  unifiedControllers: string[];
}

/** One pod's cgroup in each hierarchy the host has; recorded in the checkpoint and the guard file. */
export interface PodCgroup {
  unified: string | null;
  v1: Partial<Record<V1Controller, string>>;
}

/** A pod's limits; absent or 0 means none. */
export interface CgroupLimits {
  memoryMiB?: number;
  cpuMillis?: number;
  pidsMax?: number;
}

/** Reads the mount table (`/proc/self/mountinfo`) for cgroup hierarchies. */
export function detectCgroupLayout(mountinfo = '/proc/self/mountinfo'): CgroupLayout {
  let text = '';
  try {
    text = readFileSync(mountinfo, 'utf8');
  } catch {
    // No /proc: no cgroups to use.
  }
  return parseCgroupMounts(text);
}

/** Parses mountinfo lines into a layout (pure; see `detectCgroupLayout`). */
export function parseCgroupMounts(mountinfo: string): CgroupLayout {
  let unified: string | null = null;
  const v1: Partial<Record<V1Controller, string>> = {};
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const [fstype, , superOpts = ''] = line.slice(sep + 3).split(' ');
    const mountPoint = left[4];
    if (mountPoint === undefined) continue;
    if (fstype === 'cgroup2') unified ??= mountPoint;
    if (fstype !== 'cgroup') continue;
    const opts = superOpts.split(',');
    for (const c of V1_CONTROLLERS) if (opts.includes(c) && v1[c] === undefined) v1[c] = mountPoint;
  }
  const hasV1 = Object.keys(v1).length > 0;
  const mode = unified !== null ? (hasV1 ? 'hybrid' : 'v2') : hasV1 ? 'v1' : 'none';
  let unifiedControllers: string[] = [];
  if (unified !== null) {
    try {
      unifiedControllers = readFileSync(join(unified, 'cgroup.controllers'), 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean);
    } catch {
      // Unreadable: treat as offering none.
    }
  }
  return { mode, unified, v1, unifiedControllers };
}

/** An internal error as a returned `Err` (never thrown, unlike the store's and the API's throwing helpers). */
function internalErr(message: string, context: Record<string, string>): Result<never> {
  return err(tesseraError('TESSERA_E_INTERNAL', message, { context }));
}

/**
 * Creates `parent/name` in every hierarchy and writes `limits` where their controller lives.
 * `parent` is relative to each hierarchy's root (e.g. `tessera/node-a`). Limits the host cannot
 * enforce (no memory controller anywhere) are an error, not silently dropped.
 */
export function createPodCgroup(
  layout: CgroupLayout,
  parent: string,
  name: string,
  limits: CgroupLimits = {},
): Result<PodCgroup> {
  if (layout.mode === 'none') return internalErr('this host mounts no cgroup hierarchy', {});
  const cg: PodCgroup = { unified: null, v1: {} };
  try {
    if (layout.unified !== null) {
      cg.unified = join(layout.unified, parent, name);
      enableUnifiedControllers(layout, parent);
      mkdirSync(cg.unified, { recursive: true });
    }
    for (const c of V1_CONTROLLERS) {
      const root = layout.v1[c];
      if (root === undefined) continue;
      const dir = join(root, parent, name);
      mkdirSync(dir, { recursive: true });
      cg.v1[c] = dir;
    }
  } catch (x) {
    return internalErr(
      `cannot create cgroup ${parent}/${name}: ${(x as Error).message} (the agent needs write access to /sys/fs/cgroup, e.g. run it as root or give it a delegated subtree)`,
      { parent, name },
    );
  }
  const written = writeLimits(layout, cg, limits);
  if (!written.ok) {
    removePodCgroup(cg);
    return written;
  }
  return ok(cg);
}

/** Lets a v2 parent pass the memory, cpu and pids controllers down, where the root offers them. */
function enableUnifiedControllers(layout: CgroupLayout, parent: string): void {
  if (layout.unified === null) return;
  const wanted = ['memory', 'cpu', 'pids'].filter((c) => layout.unifiedControllers.includes(c));
  if (wanted.length === 0) return;
  let dir = layout.unified;
  for (const part of parent.split('/').filter(Boolean)) {
    try {
      writeFileSync(join(dir, 'cgroup.subtree_control'), wanted.map((c) => `+${c}`).join(' '));
    } catch {
      // A controller a parent may not pass on: the limit write below says so if it matters.
    }
    dir = join(dir, part);
    mkdirSync(dir, { recursive: true });
  }
  try {
    writeFileSync(join(dir, 'cgroup.subtree_control'), wanted.map((c) => `+${c}`).join(' '));
  } catch {
    // As above.
  }
}

function writeLimits(layout: CgroupLayout, cg: PodCgroup, limits: CgroupLimits): Result<void> {
  const v2Has = (c: string): boolean => cg.unified !== null && layout.unifiedControllers.includes(c);
  const writes: [string, string][] = [];
  if (limits.memoryMiB !== undefined && limits.memoryMiB > 0) {
    const bytes = String(limits.memoryMiB * 1024 * 1024);
    if (v2Has('memory') && cg.unified !== null) {
      writes.push([join(cg.unified, 'memory.max'), bytes], [join(cg.unified, 'memory.swap.max'), '0']);
    } else if (cg.v1.memory !== undefined) {
      // memsw (memory + swap) as well, after the memory limit it may not be below: as v2's
      // swap.max 0, a pod over its limit is killed rather than swapped out.
      writes.push(
        [join(cg.v1.memory, 'memory.limit_in_bytes'), bytes],
        [join(cg.v1.memory, 'memory.memsw.limit_in_bytes'), bytes],
      );
    } else return internalErr('a memory limit was asked for but this host has no memory controller', {});
  }
  if (limits.cpuMillis !== undefined && limits.cpuMillis > 0) {
    const period = 100_000;
    const quota = Math.max(1000, Math.round((limits.cpuMillis / 1000) * period));
    if (v2Has('cpu') && cg.unified !== null) writes.push([join(cg.unified, 'cpu.max'), `${quota} ${period}`]);
    else if (cg.v1.cpu !== undefined) {
      writes.push(
        [join(cg.v1.cpu, 'cpu.cfs_period_us'), String(period)],
        [join(cg.v1.cpu, 'cpu.cfs_quota_us'), String(quota)],
      );
    }
    // No cpu controller: a CPU limit is a share, not a safety line; the pod runs unthrottled.
  }
  if (limits.pidsMax !== undefined && limits.pidsMax > 0) {
    if (v2Has('pids') && cg.unified !== null)
      writes.push([join(cg.unified, 'pids.max'), String(limits.pidsMax)]);
    else if (cg.v1.pids !== undefined) writes.push([join(cg.v1.pids, 'pids.max'), String(limits.pidsMax)]);
  }
  for (const [file, value] of writes) {
    try {
      writeFileSync(file, value);
    } catch (x) {
      // memory.swap.max / memsw are absent where the kernel has no swap accounting: not worth failing for.
      if (file.endsWith('memory.swap.max') || file.endsWith('memory.memsw.limit_in_bytes')) continue;
      return internalErr(`cannot write ${value} to ${file}: ${(x as Error).message}`, { file });
    }
  }
  return ok(undefined);
}

/** Every `cgroup.procs` file a process must be written to, to be in the pod's cgroups. */
export function procsFiles(cg: PodCgroup): string[] {
  const dirs = [cg.unified, ...Object.values(cg.v1)].filter(
    (d): d is string => d !== null && d !== undefined,
  );
  return dirs.map((d) => join(d, 'cgroup.procs'));
}

/** Moves `pid` into the pod's cgroups (its children started later follow it). */
export function joinPodCgroup(cg: PodCgroup, pid: number): Result<void> {
  for (const f of procsFiles(cg)) {
    try {
      appendFileSync(f, String(pid));
    } catch (x) {
      return internalErr(`cannot move pid ${pid} into ${f}: ${(x as Error).message}`, { file: f });
    }
  }
  return ok(undefined);
}

/** The dir that lists the pod's processes: the v2 one, else a v1 one (freezer first). */
function membershipDir(cg: PodCgroup): string | null {
  return cg.unified ?? cg.v1.freezer ?? cg.v1.pids ?? cg.v1.memory ?? cg.v1.cpu ?? null;
}

/** The pids in the pod's cgroup and every cgroup below it (a container nests one level down); sorted. */
export function cgroupPids(cg: PodCgroup): number[] {
  const dir = membershipDir(cg);
  if (dir === null) return [];
  const pids = new Set<number>();
  const walk = (d: string): void => {
    let text = '';
    try {
      text = readFileSync(join(d, 'cgroup.procs'), 'utf8');
    } catch {
      return;
    }
    for (const l of text.split('\n')) if (/^\d+$/.test(l)) pids.add(Number(l));
    let entries: string[] = [];
    try {
      entries = readdirSync(d, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return;
    }
    for (const e of entries) walk(join(d, e));
  };
  walk(dir);
  return [...pids].sort((a, b) => a - b);
}

/** True when the pod's cgroup exists and holds at least one process (zombies count until reaped). */
export function cgroupPopulated(cg: PodCgroup): boolean {
  if (cg.unified !== null) {
    try {
      const events = readFileSync(join(cg.unified, 'cgroup.events'), 'utf8');
      return /^populated 1$/m.test(events);
    } catch {
      return false;
    }
  }
  return cgroupPids(cg).length > 0;
}

/** Freezes (or thaws) every process of the pod; v2's `cgroup.freeze`, else v1's freezer. */
export function freezeCgroup(cg: PodCgroup, frozen: boolean): Result<void> {
  const file =
    cg.unified !== null && existsSync(join(cg.unified, 'cgroup.freeze'))
      ? join(cg.unified, 'cgroup.freeze')
      : cg.v1.freezer !== undefined
        ? join(cg.v1.freezer, 'freezer.state')
        : null;
  if (file === null)
    return internalErr('no freezer for this pod: the host has neither cgroup.freeze nor a v1 freezer', {});
  const value = file.endsWith('cgroup.freeze') ? (frozen ? '1' : '0') : frozen ? 'FROZEN' : 'THAWED';
  try {
    writeFileSync(file, value);
    return ok(undefined);
  } catch (x) {
    return internalErr(`cannot write ${value} to ${file}: ${(x as Error).message}`, { file });
  }
}

/**
 * SIGKILLs every process of the pod, nested cgroups included, and returns how many it found.
 * `cgroup.kill` does it atomically; without it, freezing first keeps a forking process from
 * slipping a child out between the listing and the kill.
 */
export function killCgroup(cg: PodCgroup): number {
  const found = cgroupPids(cg);
  if (cg.unified !== null && existsSync(join(cg.unified, 'cgroup.kill'))) {
    try {
      writeFileSync(join(cg.unified, 'cgroup.kill'), '1');
      return found.length;
    } catch {
      // Fall through to the one-by-one kill.
    }
  }
  const froze = freezeCgroup(cg, true).ok;
  for (const pid of cgroupPids(cg)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
  // A frozen process dies of SIGKILL only once thawed.
  if (froze) freezeCgroup(cg, false);
  return found.length;
}

/** Sends `signal` to every process of the pod (SIGTERM on stop); returns how many were signalled. */
export function signalCgroup(cg: PodCgroup, signal: NodeJS.Signals): number {
  if (signal === 'SIGKILL') return killCgroup(cg);
  let n = 0;
  for (const pid of cgroupPids(cg)) {
    try {
      process.kill(pid, signal);
      n++;
    } catch {
      // Gone meanwhile.
    }
  }
  return n;
}

/** How often the pod's memory limit killed one of its processes (v2 `memory.events`, v1 `memory.oom_control`). */
export function oomKills(cg: PodCgroup): number {
  const tries: [string | undefined, RegExp][] = [
    [cg.unified === null ? undefined : join(cg.unified, 'memory.events'), /^oom_kill (\d+)$/m],
    [cg.v1.memory === undefined ? undefined : join(cg.v1.memory, 'memory.oom_control'), /^oom_kill (\d+)$/m],
  ];
  for (const [file, re] of tries) {
    if (file === undefined) continue;
    try {
      const m = re.exec(readFileSync(file, 'utf8'));
      if (m?.[1] !== undefined) return Number(m[1]);
    } catch {
      // Not this hierarchy.
    }
  }
  return 0;
}

/** Removes the pod's (empty) cgroups, children first; what is still populated stays, and is reported. */
export function removePodCgroup(cg: PodCgroup): Result<void> {
  const problems: string[] = [];
  for (const dir of [cg.unified, ...Object.values(cg.v1)]) {
    if (dir === null || dir === undefined || !existsSync(dir)) continue;
    const rm = (d: string): void => {
      let subs: string[] = [];
      try {
        subs = readdirSync(d, { withFileTypes: true })
          .filter((e) => e.isDirectory())
          .map((e) => e.name);
      } catch {
        // Unreadable: rmdir says why.
      }
      for (const s of subs) rm(join(d, s));
      try {
        rmdirSync(d);
      } catch (x) {
        problems.push(`${d}: ${(x as Error).message}`);
      }
    };
    rm(dir);
  }
  return problems.length === 0
    ? ok(undefined)
    : internalErr(`cgroups not removed: ${problems.join('; ')}`, {});
}

/** Removes `parent` (relative, e.g. `tessera/node-a`) from every hierarchy where it is empty, deepest first; for tests and tear-down. */
export function removeCgroupParent(layout: CgroupLayout, parent: string): void {
  const parts = parent.split('/').filter(Boolean);
  const roots = [layout.unified, ...Object.values(layout.v1)].filter(
    (d): d is string => typeof d === 'string',
  );
  for (const root of new Set(roots)) {
    for (let n = parts.length; n > 0; n--) {
      try {
        rmdirSync(join(root, ...parts.slice(0, n)));
      } catch {
        // Not empty (another agent's pods, a pod not yet released) or already gone: leave it.
        break;
      }
    }
  }
}
