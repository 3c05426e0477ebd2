// The sim state directory as the fake executables and the test workload see it (layout: README.md).
// Plain JS, synchronous, no dependencies: the fakes are started once per poll or swap and must start
// in tens of milliseconds, which rules out a TypeScript loader. `spec.ts` writes the same layout.
import fs from 'node:fs';
import path from 'node:path';

/** The variable naming the state directory; without it the fakes behave as if no driver is loaded. */
export const STATE_ENV = 'TESSERA_SIM_STATE';

/** An allocation lock older than this is broken: holders keep it for well under a millisecond. */
const STALE_LOCK_MS = 2000;

/** The state directory from the environment, or null when unset. */
export function stateDirFromEnv() {
  const dir = process.env[STATE_ENV];
  return dir && dir.length > 0 ? dir : null;
}

/** Paths inside a state directory. */
export function procsDir(dir) {
  return path.join(dir, 'procs');
}
export function registrationPath(dir, pid) {
  return path.join(dir, 'procs', `${pid}.json`);
}
/** The process's "GPU buffer" while on the GPU. */
export function devicePath(dir, pid) {
  return path.join(dir, 'procs', `${pid}.gpu`);
}
/** The same buffer while checkpointed to host memory. */
export function hostPath(dir, pid) {
  return path.join(dir, 'procs', `${pid}.host`);
}
function lockPath(dir, pid) {
  return path.join(dir, 'procs', `${pid}.lock`);
}
function allocLockPath(dir) {
  return path.join(dir, 'procs', '.alloc.lock');
}

/** Reads a JSON file; null when it does not exist. Files are only ever replaced by rename, never torn. */
export function readJson(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (e.code === 'ENOENT') return null;
    throw e;
  }
  return JSON.parse(text);
}

/**
 * Writes a file so that readers see the old or the new content, never a mix: temp file, then rename.
 * Not common/atomic-file.mjs: this folder is bind-mounted alone into containers (a containerised sim
 * workload runs /sim/workload.mjs), so the fakes import nothing outside it.
 */
export function writeFileAtomic(file, data) {
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`,
  );
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

export function writeJsonAtomic(file, value) {
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** gpus.json, or null when the directory or file is missing (the fakes then report "no driver"). */
export function readGpus(dir) {
  return readJson(path.join(dir, 'gpus.json'));
}

/** Sleeps without yielding to the event loop: the fakes are short-lived and the lock holders synchronous. */
export function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * `/proc/<pid>/stat` facts: the run state letter and the start time in clock ticks, or null where
 * there is no such process or no procfs (then `isAlive` falls back to `kill(pid, 0)`).
 */
export function procStat(pid) {
  let text;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0] ?? '?', startTicks: rest[19] ?? null };
}

const hasProcfs = fs.existsSync('/proc/self/stat');

/**
 * Whether `pid` is a live process, and the same one that registered (`startTicks`, against PID reuse).
 * A zombie counts as dead: the real driver frees a process's memory when it exits, not when it is reaped.
 */
export function isAlive(pid, startTicks) {
  if (hasProcfs) {
    const st = procStat(pid);
    if (st === null || st.state === 'Z' || st.state === 'X') return false;
    return startTicks == null || st.startTicks === startTicks;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** True when the process is stopped (SIGSTOP, time-slicing): it launches no kernels then. */
export function isStopped(pid) {
  const st = procStat(pid);
  return st !== null && (st.state === 'T' || st.state === 't');
}

/** The inode of a process's pid namespace (`/proc/<pid>/ns/pid`); equal inodes, same namespace. Null without procfs. */
export function pidNamespace(pid = 'self') {
  try {
    return fs.statSync(`/proc/${pid}/ns/pid`).ino;
  } catch {
    return null;
  }
}

/** The agent's pid namespace as `initSimState` recorded it (`pidns.json`); null in an older state dir. */
export function agentPidNamespace(dir) {
  const v = readJson(path.join(dir, 'pidns.json'));
  return typeof v?.pidNs === 'number' ? v.pidNs : null;
}

/**
 * The name the calling process files its registration, buffer and lock under: its pid where it
 * shares the agent's pid namespace (the host-process path, unchanged), else `ns<inode>-<pid>`.
 */
export function ownKey(dir) {
  const mine = pidNamespace();
  const agent = agentPidNamespace(dir);
  return agent === null || mine === null || mine === agent ? String(process.pid) : `ns${mine}-${process.pid}`;
}

/**
 * Every process this reader sees, by `<pid namespace inode>:<pid in that namespace>`, from each
 * `/proc/<pid>/status` NSpid line (outermost first, the process's own namespace last) and
 * `/proc/<pid>/ns/pid`: how the driver reports a container's process by its host pid.
 */
function nsPidIndex() {
  const index = new Map();
  let names = [];
  try {
    names = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return index;
  }
  for (const n of names) {
    let status;
    try {
      status = fs.readFileSync(`/proc/${n}/status`, 'utf8');
    } catch {
      continue;
    }
    const m = /^NSpid:\s+(.+)$/m.exec(status);
    const inner = m?.[1].trim().split(/\s+/).at(-1);
    const ns = pidNamespace(n);
    if (inner !== undefined && ns !== null) index.set(`${ns}:${inner}`, Number(n));
  }
  return index;
}

/**
 * The registrations of live processes, by pid as this reader sees it; dead processes' files are
 * ignored, as the driver would. A registration from another pid namespace (a container) is mapped
 * to this reader's pid for it; one this reader cannot see (it runs in a container itself, and the
 * process is outside) counts as live, as its memory does for a real GPU's free memory.
 */
export function liveRegistrations(dir) {
  let names;
  try {
    names = fs.readdirSync(procsDir(dir));
  } catch (e) {
    if (e.code === 'ENOENT') return [];
    throw e;
  }
  const mine = pidNamespace();
  let index = null;
  const regs = [];
  for (const name of names) {
    if (!/^(\d+|ns\d+-\d+)\.json$/.test(name)) continue;
    const reg = readJson(path.join(procsDir(dir), name));
    if (reg === null) continue;
    if (reg.pidNs == null || reg.pidNs === mine) {
      if (isAlive(reg.pid, reg.startTicks)) regs.push(reg);
      continue;
    }
    index ??= nsPidIndex();
    const seen = index.get(`${reg.pidNs}:${reg.nsPid}`);
    if (seen !== undefined) {
      if (isAlive(seen, reg.startTicks)) regs.push({ ...reg, pid: seen });
    } else if (mine !== agentPidNamespace(dir)) {
      regs.push(reg);
    }
  }
  return regs.sort((a, b) => a.pid - b.pid);
}

/** A registration of a live process, or null (none, or its process is gone). */
export function liveRegistration(dir, pid) {
  const reg = readJson(registrationPath(dir, pid));
  if (reg === null || !isAlive(reg.pid, reg.startTicks)) return null;
  return reg;
}

/** GPU memory in use on one GPU: what live processes hold there; checkpointed ones hold none. */
export function usedMemoryMiB(gpu, regs, exceptPid) {
  let used = 0;
  for (const r of regs) {
    if (r.gpuUuid === gpu.uuid && !r.checkpointed && r.pid !== exceptPid) used += r.usedMemoryMiB;
  }
  return used;
}

/** Free GPU memory as the driver reports it: total less reserved less used. */
export function freeMemoryMiB(gpu, regs, exceptPid) {
  return gpu.memoryTotalMiB - gpu.memoryReservedMiB - usedMemoryMiB(gpu, regs, exceptPid);
}

/** Thrown when a lock cannot be taken in time. */
export class LockTimeoutError extends Error {}

function takeLock(file, timeoutMs, staleMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    // A holder killed inside its critical section leaves the file: break it. A live holder's lock is
    // broken only past `staleMs` (when given): a stopped (SIGSTOP) holder keeps it until it runs again.
    try {
      const owner = Number(fs.readFileSync(file, 'utf8'));
      const ageMs = Date.now() - fs.statSync(file).mtimeMs;
      if ((owner > 0 && !isAlive(owner)) || (staleMs !== null && ageMs > staleMs))
        fs.rmSync(file, { force: true });
    } catch {
      // Released between our attempts: retry at once.
      continue;
    }
    if (Date.now() >= deadline) throw new LockTimeoutError(`lock ${file} not taken in ${timeoutMs} ms`);
    sleepSync(2);
  }
}

/** Runs `fn` holding a lock file. */
export function withLock(file, timeoutMs, staleMs, fn) {
  takeLock(file, timeoutMs, staleMs);
  try {
    return fn();
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/**
 * The per-process lock: cuda-checkpoint's transitions and the workload's GPU steps never interleave.
 * Never broken while its holder lives: a workload stopped in mid-step holds up a swap, as a stopped
 * process holds up the real cuda-checkpoint.
 */
export function withProcessLock(dir, pid, timeoutMs, fn) {
  return withLock(lockPath(dir, pid), timeoutMs, null, fn);
}

/**
 * The allocation lock: whoever adds GPU memory (a workload starting or growing, a restore) checks
 * free memory and writes under it, so two processes cannot both take the last free MiB.
 * Always taken after a process lock, never before, so the two cannot deadlock. A holder stopped by
 * time-slicing loses it after a while: allocation on a real GPU does not wait for other processes.
 */
export function withAllocLock(dir, fn) {
  return withLock(allocLockPath(dir), 5000, STALE_LOCK_MS, fn);
}
