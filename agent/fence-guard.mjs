// The fence guard: a dead man's switch for one agent data dir (agent/README.md "Fence guard").
//
// The agent stops the pods whose disconnect policy is `reschedule` when cut off from the allocator for
// their `rescheduleAfterMs`, but an agent that is frozen (SIGSTOP, a hung event loop, swapped out)
// cannot, and the allocator places them elsewhere a margin later: the same pod would run twice. This
// process, started detached by the agent, reads `<data>/fence-deadline.json` (agent/link/guard-file.ts)
// every poll; once `baseDeadlineMs + rescheduleAfterMs` of a live pod of `<data>/runner-checkpoint.json`
// (agent/runner/checkpoint.ts) has passed, it kills that pod: SIGTERM to every process of the pod
// (thawed, for a pod frozen by time-slicing), SIGKILL after a short grace. A pod whose runtime ref
// records a cgroup (the process runtime's, a container's) is found and killed by that cgroup:
// `cgroup.kill`, else freeze + SIGKILL each + thaw, so a `setsid` grandchild dies too. The cgroup is
// named for the pod and its epoch, so it cannot name someone else's processes. A pod without one
// (no writable cgroup on the host, or a version-1 checkpoint's pid/pgid) is its process group's
// leader, and the leader's pid, process group and start time (field 22 of /proc/<pid>/stat) must all
// match the checkpoint, so a reused pid is never signalled. What it killed is appended to `<data>/guard-fenced.json` BEFORE the signal, so
// the agent, alive again, reports those pods as `lease lost` (agent/runner/guard-record.ts). Pods
// without `rescheduleAfterMs` (policy `keep`) are never touched: they outlive any allocator outage.
//
// Plain JS, no dependencies, no TypeScript loader: it starts in milliseconds and stays small, one per
// agent on machines that run many. It exits when its agent is gone and no deadline is armed (a clean
// stop disarms it), when a dead agent leaves no `reschedule` pod alive, or when the data dir
// disappears. One guard per data dir: `<data>/fence-guard.pid`, created exclusively.
//
// Usage: node fence-guard.mjs <dataDir> <agentPid> [--poll-ms N] [--grace-ms N] [--log-level L]
// (L one of pino's level names, default info: the agent passes its own `--log-level`).
import fs from 'node:fs';
import path from 'node:path';
import { writeJsonAtomicSync } from '../common/atomic-file.mjs';
import {
  createGuardLog,
  DEFAULT_GUARD_LOG_LEVEL,
  GUARD_LOG_LEVELS,
  isGuardLogLevel,
} from './fence-guard-log.mjs';
import {
  cgroupMembers,
  cgroupOf,
  freezeCgroup,
  killCgroup,
  membershipDir,
  readStat,
  signal,
} from './fence-guard-procs.mjs';

const DEADLINE_FILE = 'fence-deadline.json';
const CHECKPOINT_FILE = 'runner-checkpoint.json';
const FENCED_FILE = 'guard-fenced.json';
const PID_FILE = 'fence-guard.pid';
/**
 * The runner's states in which a pod's processes may still run: every state but the ended ones
 * (agent/runner/lifecycle.ts). Wider than the enforcer's LIVE_STATES, which leaves out a pod that is
 * stopping or swapped out: the guard must fence those too.
 */
const MAY_RUN_STATES = new Set(['starting', 'running', 'ready', 'stopping', 'swapped-out']);
/** guard-fenced.json keeps the newest this many records. */
const MAX_RECORDS = 1000;
/** How often a kill round looks whether the pods are gone. */
const GONE_POLL_MS = 50;

/** The command line; exits with a usage line on anything else. */
function parseArgs(argv) {
  const [dataDir, agentPid, ...rest] = argv;
  const opts = {
    dataDir,
    agentPid: Number(agentPid),
    pollMs: 150,
    graceMs: 2000,
    logLevel: DEFAULT_GUARD_LOG_LEVEL,
  };
  for (let i = 0; i < rest.length; i += 2) {
    const flag = rest[i];
    const value = rest[i + 1];
    const v = Number(value);
    if (flag === '--poll-ms' && v > 0) opts.pollMs = v;
    else if (flag === '--grace-ms' && v >= 0) opts.graceMs = v;
    else if (flag === '--log-level' && isGuardLogLevel(value)) opts.logLevel = value;
    else opts.bad = flag;
  }
  if (!dataDir || !Number.isSafeInteger(opts.agentPid) || opts.agentPid < 1 || opts.bad !== undefined) {
    process.stderr.write(
      `usage: node fence-guard.mjs <dataDir> <agentPid> [--poll-ms N] [--grace-ms N] [--log-level ${GUARD_LOG_LEVELS.join('|')}]\n`,
    );
    process.exit(2);
  }
  return opts;
}

/** True while `pid` exists and is not a zombie. */
function processAlive(pid) {
  const s = readStat(pid);
  return s !== null && s.state !== 'Z';
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

const opts = parseArgs(process.argv.slice(2));
const log = createGuardLog(opts.logLevel);
const dataDir = path.resolve(opts.dataDir);
const files = {
  deadline: path.join(dataDir, DEADLINE_FILE),
  checkpoint: path.join(dataDir, CHECKPOINT_FILE),
  fenced: path.join(dataDir, FENCED_FILE),
  pid: path.join(dataDir, PID_FILE),
};

/** The deadline file, validated: `{armed, baseDeadlineMs, agentPid, killGraceMs}`; the spawner's pid when absent. */
function readDeadline() {
  const raw = readJson(files.deadline);
  const d = raw !== null && typeof raw === 'object' ? raw : {};
  const agentPid = Number.isSafeInteger(d.agentPid) && d.agentPid > 0 ? d.agentPid : opts.agentPid;
  const armed = typeof d.baseDeadlineMs === 'number' && Number.isFinite(d.baseDeadlineMs);
  const grace =
    typeof d.killGraceMs === 'number' && d.killGraceMs >= 0
      ? Math.min(d.killGraceMs, opts.graceMs)
      : opts.graceMs;
  return { armed, baseDeadlineMs: armed ? d.baseDeadlineMs : null, agentPid, killGraceMs: grace };
}

/** True when pod `p` (with its `afterMs`) has outlived the deadline `d` gives it. */
const overdue = (d, p, nowMs) => d.armed && nowMs > d.baseDeadlineMs + p.afterMs;

/** Whether `pid` runs this script (a pid file may name a pid reused since). */
function isGuard(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('fence-guard');
  } catch {
    return false;
  }
}

/** Takes `<data>/fence-guard.pid`; false when another live guard holds it. */
function acquirePidFile() {
  for (let i = 0; i < 2; i++) {
    try {
      fs.writeFileSync(files.pid, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return true;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    const other = Number.parseInt(fs.readFileSync(files.pid, 'utf8'), 10);
    if (other !== process.pid && processAlive(other) && isGuard(other)) return false;
    // A stale file: its guard is gone. (Two guards racing here both check the same pods: harmless.)
    fs.rmSync(files.pid, { force: true });
  }
  return false;
}

function releasePidFile() {
  try {
    if (Number.parseInt(fs.readFileSync(files.pid, 'utf8'), 10) === process.pid) fs.rmSync(files.pid);
  } catch {
    // Gone already (the data dir with it, maybe).
  }
}

/**
 * The `reschedule` pods of the checkpoint that may still run, each with its `afterMs`: those with a
 * cgroup, and those without whose leader is still the process the runner started (pid, group and
 * start time all match, a zombie leader included: its group may hold live members). A version-2
 * checkpoint has a runtime `ref`; a version-1 one `pid` and `pgid`. Anything not of the expected
 * shape is skipped.
 */
function guardedLeaders() {
  const cp = readJson(files.checkpoint);
  const pods = cp !== null && typeof cp === 'object' && Array.isArray(cp.pods) ? cp.pods : [];
  const leaders = [];
  for (const p of pods) {
    if (p === null || typeof p !== 'object' || p.spec === null || typeof p.spec !== 'object') continue;
    const { podId, epoch, rescheduleAfterMs: afterMs } = p.spec;
    const { state } = p;
    if (typeof podId !== 'string' || !Number.isSafeInteger(epoch) || !MAY_RUN_STATES.has(state)) continue;
    // `keep` pods (no rescheduleAfterMs) run on whatever happens to the allocator.
    if (!Number.isSafeInteger(afterMs) || afterMs < 0) continue;
    const ref = p.ref !== null && typeof p.ref === 'object' ? p.ref : null;
    const pid = ref === null ? p.pid : ref.pid;
    const startTimeTicks = ref === null ? p.startTimeTicks : ref.startTimeTicks;
    const cgroup = cgroupOf(ref);
    if (cgroup !== null) {
      const key = `${membershipDir(cgroup)}`;
      if (emptied.has(key)) continue;
      leaders.push({ podId, epoch, pid, pgid: null, startTimeTicks, afterMs, cgroup, key });
      continue;
    }
    // Without a cgroup, only a process-runtime pod leads its own group (a container's pid does not).
    const pgid = ref === null ? p.pgid : ref.kind === 'process' ? ref.pid : null;
    // pgid <= 1 would signal our own group or every process: never a pod. A pod leads its own group.
    if (!Number.isSafeInteger(pid) || pid <= 1 || pgid !== pid || !Number.isSafeInteger(startTimeTicks))
      continue;
    const s = readStat(pid);
    if (s === null || s.startTimeTicks !== startTimeTicks || s.pgrp !== pgid) continue;
    // A dead leader (a zombie until its frozen agent reaps it) whose group was already found empty:
    // no /proc scan for it on every poll.
    const key = `${pid}:${startTimeTicks}`;
    if (s.state === 'Z' && emptied.has(key)) continue;
    leaders.push({ podId, epoch, pid, pgid, startTimeTicks, afterMs, cgroup: null, key });
  }
  return leaders;
}

/** `leaders` with their live members; one /proc scan for the groups, only once some pod is due. */
function withMembers(leaders) {
  if (leaders.length === 0) return [];
  const groups = leaders.filter((l) => l.cgroup === null);
  const members = groups.length === 0 ? new Map() : groupMembers(new Set(groups.map((l) => l.pgid)));
  const targets = [];
  for (const l of leaders) {
    const m = l.cgroup === null ? (members.get(l.pgid) ?? []) : cgroupMembers(l.cgroup);
    if (m.length > 0) targets.push({ ...l, members: m });
    else emptied.add(l.key);
  }
  return targets;
}

/** Live (non-zombie) processes of each group in `pgids`, with their start times, from one /proc scan. */
function groupMembers(pgids) {
  const out = new Map();
  let names = [];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s === null || s.state === 'Z' || !pgids.has(s.pgrp)) continue;
    const list = out.get(s.pgrp) ?? [];
    list.push({ pid: Number(name), startTimeTicks: s.startTimeTicks });
    out.set(s.pgrp, list);
  }
  return out;
}

/** Processes of `t` still alive: its cgroup's now (forks included), else the members seen, by start time. */
function survivors(t) {
  if (t.cgroup !== null) return cgroupMembers(t.cgroup);
  return t.members.filter((m) => {
    const s = readStat(m.pid);
    return s !== null && s.state !== 'Z' && s.startTimeTicks === m.startTimeTicks;
  });
}

/** Appends the guard's kills to guard-fenced.json (the newest MAX_RECORDS kept). */
function record(targets, atMs) {
  const old = readJson(files.fenced);
  const list = Array.isArray(old) ? old : [];
  for (const t of targets) list.push({ podId: t.podId, epoch: t.epoch, atMs, pid: t.pid });
  writeJsonAtomicSync(files.fenced, list.slice(-MAX_RECORDS), { mode: 0o600 });
}

/** Pods already written to guard-fenced.json, by podId:epoch:pid:start. */
const recorded = new Set();
/** Leaders (pid:start) whose group had no live member left. */
const emptied = new Set();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One round: kills the overdue pods; returns how many guarded pods it found alive (0: none left). */
async function fire(first) {
  const leaders = guardedLeaders();
  if (leaders.length === 0 || !leaders.some((l) => overdue(first, l, Date.now()))) return leaders.length;
  // Read again after the checkpoint: an agent that came back meanwhile moved the deadline before it
  // started anything new, so a pod it just started is never killed by a stale reading.
  const d = readDeadline();
  const atMs = Date.now();
  const targets = withMembers(leaders.filter((l) => overdue(d, l, atMs)));
  if (targets.length === 0) return leaders.length;
  const fresh = targets.filter((t) => !recorded.has(`${t.podId}:${t.epoch}:${t.pid}:${t.startTimeTicks}`));
  if (fresh.length > 0) {
    try {
      record(fresh, atMs);
    } catch (e) {
      // The kill matters more than the reason the agent will report.
      log('error', 'could not record the kills; killing anyway', { file: files.fenced, error: String(e) });
    }
    for (const t of fresh) recorded.add(`${t.podId}:${t.epoch}:${t.pid}:${t.startTimeTicks}`);
  }
  for (const t of targets) {
    log('warn', 'deadline passed: stopping pod', {
      podId: t.podId,
      epoch: t.epoch,
      pgid: t.pgid,
      cgroup: t.cgroup === null ? null : membershipDir(t.cgroup),
      members: t.members.map((m) => m.pid),
      agentPid: d.agentPid,
      overdueMs: atMs - (d.baseDeadlineMs + t.afterMs),
      graceMs: d.killGraceMs,
    });
    if (t.cgroup !== null) {
      for (const m of t.members) signal(m.pid, 'SIGTERM');
      freezeCgroup(t.cgroup, false);
    } else {
      signal(-t.pgid, 'SIGTERM');
      signal(-t.pgid, 'SIGCONT');
    }
  }
  const until = performance.now() + d.killGraceMs;
  while (performance.now() < until && targets.some((t) => survivors(t).length > 0)) {
    await sleep(Math.min(GONE_POLL_MS, Math.max(1, until - performance.now())));
  }
  for (const t of targets) {
    const left = survivors(t);
    if (left.length === 0) continue;
    log('warn', 'grace over: SIGKILL', { podId: t.podId, pids: left.map((m) => m.pid) });
    if (t.cgroup !== null) {
      killCgroup(t.cgroup);
      continue;
    }
    const leader = readStat(t.pid);
    // While the leader (zombie or not) holds the group id, the group is the pod's: kill it whole,
    // late forks included. Without it, only the members seen, each checked by its start time.
    if (leader !== null && leader.startTimeTicks === t.startTimeTicks) signal(-t.pgid, 'SIGKILL');
    else for (const m of left) signal(m.pid, 'SIGKILL');
  }
  return leaders.length;
}

/** Why the guard may exit now, or null to keep watching. */
function exitReason(d, found) {
  if (!fs.existsSync(dataDir)) return 'the data dir is gone';
  if (processAlive(d.agentPid)) return null;
  if (!d.armed) return `agent ${d.agentPid} is gone and the deadline is disarmed`;
  if (found === 0) return `agent ${d.agentPid} is gone and no pod it ran stops when cut off`;
  return null;
}

async function main() {
  if (!fs.existsSync(dataDir)) {
    log('info', 'data dir missing; exiting', { dataDir });
    return;
  }
  if (!acquirePidFile()) {
    log('info', 'another fence guard watches this data dir; exiting', { dataDir });
    return;
  }
  log('info', 'fence guard watching', { dataDir, agentPid: opts.agentPid, pollMs: opts.pollMs });
  let lastArmed = null;
  for (;;) {
    const d = readDeadline();
    const found = d.armed ? await fire(d) : null;
    if (d.armed !== lastArmed) {
      log('info', d.armed ? 'deadline armed' : 'deadline disarmed', { agentPid: d.agentPid });
      lastArmed = d.armed;
    }
    const why = exitReason(d, found);
    if (why !== null) {
      releasePidFile();
      // A new agent may have armed the file between our reading and the release: then it counts on us.
      const again = readDeadline();
      if (why === 'the data dir is gone' || exitReason(again, found) !== null || !acquirePidFile()) {
        log('info', `exiting: ${why}`);
        return;
      }
    }
    await sleep(opts.pollMs);
  }
}

main().catch((e) => {
  log('error', 'fence guard failed', { error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  releasePidFile();
  process.exit(1);
});
