// The fence guard's view of a pod's processes (agent/fence-guard.mjs): /proc/<pid>/stat, signals,
// and the pod's cgroup (who is in it, freezing it, killing all of it, so a `setsid` grandchild dies
// with the pod). Plain JS, no dependencies, as the guard; the cgroup operations are those of
// agent/runtime/cgroup.ts, which the guard cannot import (TypeScript, and the agent's dependencies).
import fs from 'node:fs';
import path from 'node:path';

/** /proc/<pid>/stat's state, process group and start time; null when gone (as agent/runner/proc.ts). */
export function readStat(pid) {
  let text;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name may hold spaces and parentheses: the numbers start after the LAST ')'.
  const rest = text
    .slice(text.lastIndexOf(')') + 1)
    .trim()
    .split(/\s+/);
  const stat = { state: rest[0] ?? '', pgrp: Number(rest[5 - 3]), startTimeTicks: Number(rest[22 - 3]) };
  return Number.isSafeInteger(stat.pgrp) && Number.isSafeInteger(stat.startTimeTicks) ? stat : null;
}

/** Sends `sig` to `target` (a pid, or minus a process group); one gone meanwhile is no error. */
export function signal(target, sig) {
  try {
    process.kill(target, sig);
  } catch {
    // ESRCH: gone meanwhile.
  }
}

/** The dir that lists a cgroup's processes: the v2 one, else a v1 one (as agent/runtime/cgroup.ts). */
export function membershipDir(cg) {
  const v1 = cg.v1 ?? {};
  return cg.unified ?? v1.freezer ?? v1.pids ?? v1.memory ?? v1.cpu ?? null;
}

/** A checkpoint ref's cgroup, validated (absolute paths only); null when it has none. */
export function cgroupOf(ref) {
  const cg = ref !== null && typeof ref === 'object' ? ref.cgroup : null;
  if (cg === null || typeof cg !== 'object') return null;
  const paths = [cg.unified, ...Object.values(cg.v1 ?? {})].filter((x) => x !== null && x !== undefined);
  if (paths.length === 0 || !paths.every((x) => typeof x === 'string' && path.isAbsolute(x))) return null;
  return { unified: cg.unified ?? null, v1: cg.v1 ?? {} };
}

/** Live (non-zombie) processes of a cgroup and the cgroups below it, with their start times. */
export function cgroupMembers(cg) {
  const out = [];
  const walk = (dir) => {
    let text = '';
    try {
      text = fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8');
    } catch {
      return;
    }
    for (const l of text.split('\n')) {
      if (!/^\d+$/.test(l)) continue;
      const s = readStat(Number(l));
      if (s !== null && s.state !== 'Z') out.push({ pid: Number(l), startTimeTicks: s.startTimeTicks });
    }
    let subs = [];
    try {
      subs = fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory());
    } catch {
      return;
    }
    for (const e of subs) walk(path.join(dir, e.name));
  };
  const dir = membershipDir(cg);
  if (dir !== null) walk(dir);
  return out;
}

/** Freezes or thaws a cgroup (v2 cgroup.freeze, else the v1 freezer); false when it has neither. */
export function freezeCgroup(cg, frozen) {
  const tries = [
    cg.unified === null ? null : [path.join(cg.unified, 'cgroup.freeze'), frozen ? '1' : '0'],
    cg.v1.freezer === undefined
      ? null
      : [path.join(cg.v1.freezer, 'freezer.state'), frozen ? 'FROZEN' : 'THAWED'],
  ];
  for (const t of tries) {
    if (t === null || !fs.existsSync(t[0])) continue;
    try {
      fs.writeFileSync(t[0], t[1]);
      return true;
    } catch {
      // Try the next.
    }
  }
  return false;
}

/** SIGKILLs every process of a cgroup: `cgroup.kill` at once, else frozen so none forks meanwhile. */
export function killCgroup(cg) {
  if (cg.unified !== null && fs.existsSync(path.join(cg.unified, 'cgroup.kill'))) {
    try {
      fs.writeFileSync(path.join(cg.unified, 'cgroup.kill'), '1');
      return;
    } catch {
      // Fall through to one by one.
    }
  }
  const froze = freezeCgroup(cg, true);
  for (const m of cgroupMembers(cg)) signal(m.pid, 'SIGKILL');
  // A frozen process dies of SIGKILL only once thawed.
  if (froze) freezeCgroup(cg, false);
}
