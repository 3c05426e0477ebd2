/**
 * The `process` runtime: each pod a host process tree, in its own cgroup (memory and CPU limits,
 * counted, frozen and killed as one, so a `setsid` grandchild cannot outlive a stop), as its own
 * unprivileged uid, in its own 0700 dir under the pod root, with no variable of the agent's
 * environment but what the runner put in the request.
 *
 * Where the host gives the agent no writable cgroup (the agent is not root, no delegated subtree),
 * pods fall back to a process group of their own, signalled and frozen with SIGSTOP/SIGCONT as
 * before; where the agent is not root, pods run as the agent's user. Each is logged once.
 *
 * `node:child_process` rather than execa: a pod needs raw fds as stdio, a detached child never
 * awaited as a promise, and none of execa's cleanup-on-parent-exit (pods outlive the agent).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { err, ok, type Result, tesseraError } from '../../../common/errors.ts';
import type { Logger } from '../../../common/log.ts';
import {
  groupAlive,
  groupPids,
  isLiveProcess,
  killTaggedGroupMembers,
  processStartTime,
  readProcStat,
  signalGroup,
} from '../../runner/proc.ts';
import type { PodSpec } from '../../runner/types.ts';
import {
  type CgroupLayout,
  cgroupPids,
  createPodCgroup,
  detectCgroupLayout,
  freezeCgroup,
  killCgroup,
  oomKills,
  type PodCgroup,
  procsFiles,
  removePodCgroup,
  signalCgroup,
} from '../cgroup.ts';
import { findExecutable } from '../executable.ts';
import { withHamiCacheIn } from '../hami-cache.ts';
import type { LaunchedPod, LaunchRequest, PodEnd, PodRuntime, RuntimeRef } from '../types.ts';
import { createIdAllocator, type IdRange } from './ids.ts';
import { preparePodRootDir, removePodRootDir } from './pod-root.ts';
import { type PodIdentity, wrapperArgv } from './wrapper.ts';

/** Options of `createProcessRuntime`, normalised by the agent's config (defaults there). */
export interface ProcessRuntimeOptions {
  /** Each pod's dir is `<podRoot>/<podId>`; the agent's default `/var/lib/tessera/pods`. */
  podRoot: string;
  /** Pod cgroups go under this path of each hierarchy; the agent's default `tessera/<nodeName>`. */
  cgroupParent: string;
  /** Ids a root agent gives its pods, one per live pod; null: pods run as the agent's own user. */
  uidRange: IdRange | null;
  /** How often a pod adopted after a restart (not our child) is checked for its end, in ms. */
  adoptPollMs: number;
  log: Logger;
  /** The host's cgroup mounts; default read from /proc/self/mountinfo. */
  layout?: CgroupLayout;
}

/** The reason a pod ends with when its cgroup's memory limit killed one of its processes. */
export const REASON_OOM_KILLED = 'OOMKilled';

type ProcessRef = Extract<RuntimeRef, { kind: 'process' }>;

function launchError(podId: string, field: string, message: string): Result<never> {
  return err(
    tesseraError('TESSERA_E_INVALID_SPEC', `pod ${podId}: ${message}`, { field, context: { podId } }),
  );
}

/** True while the pod's main process lives but is not yet in its cgroup (the wrapper's first instant). */
function leaderOutside(ref: { pid: number; startTimeTicks: number }, cg: PodCgroup): boolean {
  return !cgroupPids(cg).includes(ref.pid) && isLiveProcess(ref.pid, ref.startTimeTicks);
}

/** The live (non-zombie) pids of a cgroup. */
function liveCgroupPids(cg: PodCgroup): number[] {
  return cgroupPids(cg).filter((p) => {
    const st = readProcStat(p)?.state;
    return st !== undefined && st !== 'Z';
  });
}

/**
 * The request's env for a pod that runs as another user: the agent's own `HOME`, `USER` and
 * `LOGNAME` (allowlisted for pods that run as the agent) name a home the pod cannot write, so `HOME`
 * becomes the pod's own dir and the user names go; a spec's own `HOME` stays. HAMi-core's
 * accounting file moves into that dir too (hami-cache.ts).
 */
function podUserEnv(
  env: Readonly<Record<string, string>>,
  identity: PodIdentity | null,
  podDir: string,
): Record<string, string> {
  if (identity === null) return { ...env };
  const out = withHamiCacheIn(env, podDir);
  if (out.HOME === undefined || out.HOME === process.env.HOME) out.HOME = podDir;
  if (out.USER === process.env.USER) delete out.USER;
  if (out.LOGNAME === process.env.LOGNAME) delete out.LOGNAME;
  return out;
}

/** The process runtime; see the file comment. */
export function createProcessRuntime(opts: ProcessRuntimeOptions): PodRuntime {
  const { log } = opts;
  const isRoot = process.getuid?.() === 0;
  const ids = opts.uidRange === null ? null : createIdAllocator(opts.uidRange);
  const layout = opts.layout ?? detectCgroupLayout();
  const cgroupsUsable = probeCgroups(layout, opts.cgroupParent);
  if (!cgroupsUsable.ok) {
    log.warn(
      'no writable cgroup: pods run as process groups (no memory or CPU limit, a setsid child can escape a stop)',
      {
        error: cgroupsUsable.error.message,
      },
    );
  }
  if (!isRoot) {
    log.warn(
      "the agent is not root: pods run as the agent's own user and can read each other's files and environment",
      {
        uid: process.getuid?.(),
      },
    );
  } else if (ids === null) {
    log.warn('no pod uid range: pods run as root');
  }
  // What release needs that the ref does not carry: the pod's id (its dir) and whether we chose its uid.
  const known = new Map<string, { podId: string; ownUid: boolean }>();
  const key = (ref: ProcessRef): string => `${ref.pid}:${ref.startTimeTicks}`;

  const identityFor = (spec: PodSpec): Result<{ identity: PodIdentity | null; ownUid: boolean }> => {
    if (spec.runAsUser !== undefined) {
      const uid = spec.runAsUser;
      const gid = spec.runAsGroup ?? uid;
      if (!isRoot && uid !== process.getuid?.()) {
        return launchError(spec.podId, 'runAsUser', `runAsUser ${uid} needs an agent running as root`);
      }
      return ok({ identity: isRoot ? { uid, gid } : null, ownUid: false });
    }
    if (!isRoot || ids === null) return ok({ identity: null, ownUid: false });
    const taken = ids.take();
    if (!taken.ok) return taken;
    return ok({ identity: { uid: taken.value, gid: taken.value }, ownUid: true });
  };

  const oomReason = (cg: PodCgroup | null, before: number): string | null =>
    cg !== null && oomKills(cg) > before ? REASON_OOM_KILLED : null;

  /** An `ended` promise for a pod that is not our child: polls its main process. */
  const pollEnded = (ref: ProcessRef): Promise<PodEnd> =>
    new Promise((resolve) => {
      const t = setInterval(() => {
        if (isLiveProcess(ref.pid, ref.startTimeTicks)) return;
        clearInterval(t);
        resolve({ exitCode: null, signal: null, reason: oomReason(ref.cgroup, 0) });
      }, opts.adoptPollMs);
      t.unref();
    });

  const runtime: PodRuntime = {
    kind: 'process',

    async launch(req: LaunchRequest) {
      const { spec } = req;
      if (req.signal.aborted) return launchError(spec.podId, 'command', 'stopped before it started');
      if (spec.image !== undefined) {
        // Running the command on the host instead would drop the isolation the image promised.
        return launchError(
          spec.podId,
          'image',
          `image ${spec.image} needs a container runtime, and this node runs pods with --runtime process; start its agent with --runtime container (Debian's podman and runc installed)`,
        );
      }
      const [cmd = ''] = spec.command;
      if (!findExecutable(cmd, req.env.PATH)) {
        return launchError(
          spec.podId,
          'command',
          `cannot start ${JSON.stringify(cmd)}: not found or not executable (PATH ${req.env.PATH ?? 'unset'})`,
        );
      }
      const who = identityFor(spec);
      if (!who.ok) return who;
      const { identity, ownUid } = who.value;
      const undo: (() => void)[] = [];
      if (ownUid && identity !== null) undo.push(() => ids?.release(identity.uid));
      // Undoes what this start made so far, then answers with `r`.
      const rollBack = (r: Result<never>): Result<never> => {
        for (const u of undo.reverse()) u();
        return r;
      };
      // Always made: the pod's working dir unless the spec names one, and its HOME either way.
      const dir = preparePodRootDir(opts.podRoot, spec.podId, identity);
      if (!dir.ok) return rollBack(dir);
      undo.push(() => removePodRootDir(opts.podRoot, spec.podId));
      const cwd = spec.workingDir ?? dir.value;
      let cgroup: PodCgroup | null = null;
      if (cgroupsUsable.ok) {
        const created = createPodCgroup(layout, opts.cgroupParent, `${spec.podId}-e${spec.epoch}`, {
          memoryMiB: spec.memoryMiB,
          cpuMillis: spec.cpuMillis,
        });
        if (!created.ok) return rollBack(created);
        cgroup = created.value;
        const cg = cgroup;
        undo.push(() => removePodCgroup(cg));
      } else if ((spec.memoryMiB ?? 0) > 0) {
        return rollBack(
          launchError(
            spec.podId,
            'memoryMiB',
            'a memory limit needs a writable cgroup, and this agent has none',
          ),
        );
      }
      const oomBefore = cgroup === null ? 0 : oomKills(cgroup);
      const argv = wrapperArgv(cgroup === null ? [] : procsFiles(cgroup), identity, spec.command);
      let child: ChildProcess;
      try {
        // detached: a session of its own, so the agent's terminal and group signals never reach it.
        child = spawn(argv[0] ?? '/bin/sh', argv.slice(1), {
          cwd,
          env: podUserEnv(req.env, identity, dir.value),
          detached: true,
          stdio: ['ignore', req.stdoutFd, req.stderrFd],
        });
      } catch (x) {
        return rollBack(launchError(spec.podId, 'command', `cannot start: ${(x as Error).message}`));
      }
      const pid = child.pid;
      if (pid === undefined) {
        child.on('error', () => {});
        return rollBack(
          launchError(spec.podId, 'command', `cannot start ${JSON.stringify(cmd)} (cwd ${cwd})`),
        );
      }
      const ref: ProcessRef = {
        kind: 'process',
        pid,
        startTimeTicks: processStartTime(pid) ?? 0,
        cgroup,
        ...(identity === null ? {} : { uid: identity.uid, gid: identity.gid }),
      };
      known.set(key(ref), { podId: spec.podId, ownUid });
      const ended = new Promise<PodEnd>((resolve) => {
        child.on('exit', (code, sig) =>
          resolve({ exitCode: code, signal: sig, reason: oomReason(cgroup, oomBefore) }),
        );
      });
      child.on('error', (x) => log.warn('pod process error', { podId: spec.podId, error: x }));
      // Pods outlive the agent: the child handle must not keep the agent's event loop alive.
      child.unref();
      return ok({ ref, ended });
    },

    async adopt(ref, spec) {
      if (ref.kind !== 'process')
        return { ended: { exitCode: null, signal: null, reason: `not a process pod (${ref.kind})` } };
      const ownUid =
        ref.uid !== undefined &&
        ids !== null &&
        ref.uid >= (opts.uidRange?.first ?? 0) &&
        ref.uid <= (opts.uidRange?.last ?? -1);
      if (ownUid && ref.uid !== undefined) ids?.claim(ref.uid);
      known.set(key(ref), { podId: spec.podId, ownUid });
      if (isLiveProcess(ref.pid, ref.startTimeTicks)) {
        const running: LaunchedPod = { ref, ended: pollEnded(ref) };
        return { running };
      }
      if (ref.cgroup !== null) {
        // The main process is gone; whatever it left in the cgroup goes too (it would hold GPU memory).
        if (liveCgroupPids(ref.cgroup).length > 0) killCgroup(ref.cgroup);
        return { ended: { exitCode: null, signal: null, reason: oomReason(ref.cgroup, 0) } };
      }
      const stat = readProcStat(ref.pid);
      if (stat === null || stat.startTimeTicks === ref.startTimeTicks) {
        // Its group's pgid could have been recycled: kill only members carrying the pod's identity.
        const tags = { TESSERA_POD_ID: spec.podId, TESSERA_EPOCH: String(spec.epoch) };
        const killed = killTaggedGroupMembers(ref.pid, tags);
        if (killed.length > 0)
          log.info('killed what an ended pod left in its group', { podId: spec.podId, pids: killed });
      }
      // Else PID reuse: the number names someone else's process now; touch nothing.
      return { ended: { exitCode: null, signal: null, reason: null } };
    },

    signal(ref, sig) {
      if (ref.cgroup !== null) {
        // A stop right after the start can come before the wrapper has moved itself into the cgroup.
        if (leaderOutside(ref, ref.cgroup)) {
          try {
            process.kill(ref.pid, sig);
          } catch {
            // Gone meanwhile, or it joined and the cgroup signal below reaches it.
          }
        }
        signalCgroup(ref.cgroup, sig);
        return;
      }
      try {
        signalGroup(ref.pid, sig);
      } catch (x) {
        log.warn('cannot signal pod group', { pid: ref.pid, error: x });
      }
    },

    alive: (ref) =>
      ref.cgroup !== null
        ? liveCgroupPids(ref.cgroup).length > 0 || leaderOutside(ref, ref.cgroup)
        : groupAlive(ref.pid),

    pids: (ref) => (ref.cgroup !== null ? liveCgroupPids(ref.cgroup) : groupPids(ref.pid)),

    freeze(ref, frozen) {
      if (ref.cgroup !== null) return freezeCgroup(ref.cgroup, frozen);
      try {
        signalGroup(ref.pid, frozen ? 'SIGSTOP' : 'SIGCONT');
        return ok(undefined);
      } catch (x) {
        return err(
          tesseraError(
            'TESSERA_E_INTERNAL',
            `cannot ${frozen ? 'stop' : 'continue'} group ${ref.pid}: ${(x as Error).message}`,
          ),
        );
      }
    },

    async release(ref) {
      if (ref.kind !== 'process') return;
      const mine = known.get(key(ref));
      let freed = true;
      if (ref.cgroup !== null) {
        const cg = ref.cgroup;
        // A v1 cgroup refuses rmdir until its killed tasks are fully gone: retry a little.
        for (let i = 0; i < 50; i++) {
          if (liveCgroupPids(cg).length > 0) killCgroup(cg);
          const removed = removePodCgroup(cg);
          freed = removed.ok;
          if (freed) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        if (!freed)
          log.warn('pod cgroup not removed; its uid stays reserved', {
            cgroup: cg.unified ?? Object.values(cg.v1)[0],
          });
      }
      if (mine !== undefined) {
        removePodRootDir(opts.podRoot, mine.podId);
        if (mine.ownUid && freed && ref.uid !== undefined) ids?.release(ref.uid);
        known.delete(key(ref));
      }
    },
  };
  return runtime;
}

/** Whether the agent may create cgroups under `parent` in every hierarchy the host mounts. */
function probeCgroups(layout: CgroupLayout, parent: string): Result<void> {
  if (layout.mode === 'none')
    return err(tesseraError('TESSERA_E_INTERNAL', 'this host mounts no cgroup hierarchy'));
  const roots = [layout.unified, ...Object.values(layout.v1)].filter(
    (d): d is string => typeof d === 'string',
  );
  for (const root of new Set(roots)) {
    try {
      mkdirSync(join(root, parent), { recursive: true });
    } catch (x) {
      return err(
        tesseraError('TESSERA_E_INTERNAL', `cannot create ${join(root, parent)}: ${(x as Error).message}`),
      );
    }
  }
  return ok(undefined);
}
