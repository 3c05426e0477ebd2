/**
 * The container runtime: pods as Podman containers (rootful, daemonless, runc), which outlive the
 * agent under conmon and are found again by id or labels. Podman starts and removes them; their
 * cgroup is where the runtime signals, freezes, counts and watches them, as the process runtime
 * does with its own cgroups.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { err, ok, type Result, tesseraError } from '../../../common/errors.ts';
import { isLiveProcess, processStartTime } from '../../runner/proc.ts';
import type { PodSpec } from '../../runner/types.ts';
import {
  type CgroupLayout,
  cgroupPids,
  detectCgroupLayout,
  freezeCgroup,
  oomKills,
  signalCgroup,
} from '../cgroup.ts';
import { withHamiCacheIn } from '../hami-cache.ts';
import type { LaunchedPod, LaunchRequest, PodEnd, PodRuntime, RuntimeRef } from '../types.ts';
import { containerName, envFileText, LABEL_EPOCH, LABEL_NODE, LABEL_POD, runArgs } from './args.ts';
import { detectGpuAccess, gpuDevices } from './gpus.ts';
import {
  type ContainerState,
  cgroupFromPath,
  cgroupPathOfProc,
  endFromState,
  isRunning,
  parseInspect,
} from './inspect.ts';
import { type ContainerRuntimeConfig, type ContainerRuntimeOptions, normaliseOptions } from './options.ts';
import { fileSize, type Podman, podmanAt, podmanSaid, readAppended } from './podman.ts';
import { ensureImage } from './pull.ts';
import { ContainerWatch, containerAlive } from './watch.ts';

type ContainerRef = Extract<RuntimeRef, { kind: 'container' }>;

function failed(message: string, context: Record<string, string> = {}): Result<never> {
  return err(tesseraError('TESSERA_E_INTERNAL', message, { context }));
}

/** Creates the container runtime; `podman` and `layout` are injected by tests. */
export function createContainerRuntime(
  opts: ContainerRuntimeOptions,
  inject: { podman?: Podman; layout?: CgroupLayout } = {},
): PodRuntime {
  const cfg = normaliseOptions(opts);
  return new ContainerRuntime(
    cfg,
    inject.podman ?? podmanAt(cfg.podmanPath),
    inject.layout ?? detectCgroupLayout(),
  );
}

/** How `podman run --pull never` says the image is not in the node's store. */
const IMAGE_GONE = /image not known|no such image/i;

class ContainerRuntime implements PodRuntime {
  readonly kind = 'container' as const;
  private readonly watch: ContainerWatch;
  /** The `ended` of each watched container, so a release lets it settle with the real exit first. */
  private readonly running = new Map<string, Promise<PodEnd>>();
  /** Images this runtime started a container from: present, unless removed behind its back. */
  private readonly present = new Set<string>();
  private warnedNoInit = false;

  constructor(
    private readonly cfg: ContainerRuntimeConfig,
    private readonly podman: Podman,
    private readonly layout: CgroupLayout,
  ) {
    this.watch = new ContainerWatch(cfg.watchIntervalMs);
  }

  async launch(req: LaunchRequest): Promise<Result<LaunchedPod>> {
    const spec = req.spec;
    // Said at the first container, not at start: a node that never runs one need not hear it.
    if (this.cfg.initPath === null && !this.warnedNoInit) {
      this.warnedNoInit = true;
      this.cfg.logger.warn(
        'no init for containers (install catatonit): a pod whose command ignores SIGTERM as PID 1 is stopped by SIGKILL after its grace, and orphans are reaped only if the command reaps them',
      );
    }
    if (spec.image === undefined || spec.image === '') {
      return err(
        tesseraError('TESSERA_E_INVALID_SPEC', 'the container runtime needs an image', { field: 'image' }),
      );
    }
    const image = spec.image;
    const gpus = gpuDevices(
      spec.grants,
      detectGpuAccess(this.cfg.cdiSpecDirs, this.cfg.simStateDir, this.cfg.minorNumberOf),
    );
    if (!gpus.ok) return gpus;
    // The container's own /tmp: HAMi-core's accounting file cannot live in the agent's data dir.
    const env = envFileText(withHamiCacheIn(req.env, '/tmp'));
    if (!env.ok) return env;
    const name = containerName(spec.podId, spec.epoch);
    const envFile = join(req.podDir, `.env-${name}`);
    const cidFile = join(req.podDir, `.cid-${name}`);
    const pidFile = join(req.podDir, `.pid-${name}`);
    const args = runArgs({
      spec,
      image,
      name,
      nodeName: this.cfg.nodeName,
      cgroupParent: this.cfg.cgroupParent,
      envFile,
      cidFile,
      pidFile,
      ulimits: this.cfg.ulimits,
      initPath: this.cfg.initPath,
      devices: gpus.value.devices,
      extraMounts: gpus.value.mounts,
    });
    if (!args.ok) return args;
    // The spec is checked (above) before the pull, which may take minutes.
    // IfNotPresent for an image this runtime has run before skips `podman image exists` (about
    // 0.1-0.5 s of every start); an image removed behind its back shows as "image not known" and
    // is then pulled after all.
    const cached = (spec.imagePullPolicy ?? 'IfNotPresent') === 'IfNotPresent' && this.present.has(image);
    if (!cached) {
      const pulled = await ensureImage(this.cfg, this.podman, image, req);
      if (!pulled.ok) return pulled;
    }
    if (req.signal.aborted)
      return failed('the pod was stopped before its container started', { pod: spec.podId });
    let id: string;
    let pid = 0;
    try {
      // 'wx' after rm: the mode applies only to a file this call creates.
      rmSync(envFile, { force: true });
      writeFileSync(envFile, env.value, { mode: 0o600, flag: 'wx' });
      let started = await this.runOnce(args.value, req, cidFile, name);
      if (!started.ok && cached && IMAGE_GONE.test(started.error.message)) {
        this.present.delete(image);
        const pulled = await ensureImage(this.cfg, this.podman, image, req);
        if (!pulled.ok) return pulled;
        started = await this.runOnce(args.value, req, cidFile, name);
      }
      if (!started.ok) return started;
      this.present.add(image);
      id = started.value;
      pid = Number(readText(pidFile).trim()) || 0;
    } finally {
      rmSync(envFile, { force: true });
      rmSync(cidFile, { force: true });
      rmSync(pidFile, { force: true });
    }
    req.onEvent('container-created', `Created container ${id.slice(0, 12)}`);
    // The pidfile and /proc give pid and cgroup without another podman process (~0.1-0.2 s here);
    // the cgroup path naming this container's id proves the pid is still its PID 1.
    const cgroupPath = pid > 0 ? cgroupPathOfProc(readText(`/proc/${pid}/cgroup`)) : '';
    if (cgroupPath.endsWith(id) || cgroupPath.includes(`-${id}`)) {
      const state: ContainerState = {
        id,
        name,
        status: 'running',
        pid,
        exitCode: 0,
        oomKilled: false,
        error: '',
        cgroupPath,
        labels: {},
      };
      return ok(this.attach(state));
    }
    // Already ended (or a host whose cgroup paths do not name the id): ask podman. A pod killed by
    // its memory limit at once may still have its cgroup (podman's cleanup is a process start away):
    // its OOM count is read first, since podman on a hybrid host does not report it.
    const early = cgroupFromPath(this.layout, `${this.cfg.cgroupParent}/libpod-${id}`, existsSync);
    const oomEarly = early === null ? 0 : oomKills(early);
    const state = await this.inspectOne(id);
    if (state === null)
      return failed(`container ${name} (${id.slice(0, 12)}) vanished right after it started`, { name });
    return ok(this.attach(oomEarly > 0 && !isRunning(state) ? { ...state, oomKilled: true } : state));
  }

  /**
   * `podman run -d`, with the pod's log files as its stdout and stderr (the container inherits
   * them). Podman's own complaints land in the pod's stderr log too, where the user sees them;
   * they are read back from there for the error. A leftover container of the same name (a launch
   * the agent died in) is removed and the run tried once more.
   */
  private async runOnce(
    args: string[],
    req: LaunchRequest,
    cidFile: string,
    name: string,
  ): Promise<Result<string>> {
    for (let attempt = 0; attempt < 2; attempt++) {
      rmSync(cidFile, { force: true });
      const before = fileSize(req.stderrFd);
      const r = await this.podman(args, {
        timeoutMs: this.cfg.commandTimeoutMs,
        output: { stdoutFd: req.stdoutFd, stderrFd: req.stderrFd },
      });
      let id = '';
      try {
        id = readFileSync(cidFile, 'utf8').trim();
      } catch {
        // No cidfile: podman failed before creating the container.
      }
      if (r.exitCode === 0 && id !== '') return ok(id);
      const said = readAppended(req.stderrFd, before) || podmanSaid(r);
      if (attempt === 0 && /already in use/.test(said)) {
        this.cfg.logger.warn('removing a leftover container of the same name', { name });
        await this.podman(['rm', '-f', '-t', '0', name], { timeoutMs: this.cfg.commandTimeoutMs });
        continue;
      }
      if (id !== '') await this.podman(['rm', '-f', '-t', '0', id], { timeoutMs: this.cfg.commandTimeoutMs });
      return failed(`podman run failed for ${name}: ${said}`, { name });
    }
    return failed(`podman run failed for ${name}: the name stayed in use`, { name });
  }

  /** Builds the ref of an inspected container and watches it for its end. */
  private attach(state: ContainerState): LaunchedPod {
    const cgroup = isRunning(state) ? cgroupFromPath(this.layout, state.cgroupPath, existsSync) : null;
    const ref: ContainerRef = {
      kind: 'container',
      id: state.id,
      name: state.name,
      pid: state.pid,
      startTimeTicks: state.pid > 0 ? (processStartTime(state.pid) ?? 0) : 0,
      cgroup,
    };
    const ended = isRunning(state)
      ? new Promise<PodEnd>((resolve) =>
          this.watch.add(ref, (g) => void this.endOf(ref, g.oomKills).then(resolve)),
        )
      : Promise.resolve(endFromState(state));
    if (isRunning(state)) {
      this.running.set(ref.id, ended);
      void ended.then(() => this.running.delete(ref.id));
    }
    return { ref, ended };
  }

  /**
   * How a container whose processes are gone ended. conmon records the exit a moment after the
   * cgroup empties, so inspect is asked again while podman still says `running`.
   */
  private async endOf(ref: ContainerRef, oomKillsSeen: number): Promise<PodEnd> {
    for (let i = 0; i < 40; i++) {
      const s = await this.inspectOne(ref.id);
      if (s === null) return missingEnd(ref);
      if (!isRunning(s)) return endFromState(oomKillsSeen > 0 ? { ...s, oomKilled: true } : s);
      await sleep(Math.min(50 * 2 ** i, 1000));
    }
    return {
      exitCode: null,
      signal: null,
      reason: `container ${ref.name} has no processes but podman still reports it running`,
    };
  }

  private async inspectOne(idOrName: string): Promise<ContainerState | null> {
    const r = await this.podman(['container', 'inspect', idOrName], { timeoutMs: this.cfg.commandTimeoutMs });
    if (r.exitCode !== 0) {
      if (!/no such (container|object)/i.test(r.stderr)) {
        this.cfg.logger.warn('podman inspect failed', { container: idOrName, said: podmanSaid(r) });
      }
      return null;
    }
    return parseInspect(r.stdout)[0] ?? null;
  }

  /** The container of a ref by id, else by its labels (pod, epoch, node), else null. */
  private async find(ref: ContainerRef, spec: PodSpec): Promise<ContainerState | null> {
    const byId = await this.inspectOne(ref.id);
    if (byId !== null) return byId;
    const r = await this.podman(
      [
        'ps',
        '-a',
        '-q',
        '--no-trunc',
        '--filter',
        `label=${LABEL_POD}=${spec.podId}`,
        '--filter',
        `label=${LABEL_EPOCH}=${spec.epoch}`,
        '--filter',
        `label=${LABEL_NODE}=${this.cfg.nodeName}`,
      ],
      { timeoutMs: this.cfg.commandTimeoutMs },
    );
    const id =
      r.exitCode === 0
        ? r.stdout
            .split('\n')
            .map((l) => l.trim())
            .find(Boolean)
        : undefined;
    return id === undefined ? null : this.inspectOne(id);
  }

  async adopt(ref: RuntimeRef, spec: PodSpec): Promise<{ running: LaunchedPod } | { ended: PodEnd }> {
    if (ref.kind !== 'container') {
      return {
        ended: { exitCode: null, signal: null, reason: 'the container runtime cannot adopt a process pod' },
      };
    }
    const state = await this.find(ref, spec);
    if (state === null) return { ended: missingEnd(ref) };
    if (!isRunning(state)) return { ended: endFromState(state) };
    return { running: this.attach(state) };
  }

  signal(ref: RuntimeRef, signal: 'SIGTERM' | 'SIGKILL'): void {
    if (ref.kind !== 'container') return;
    // Straight to every process of the cgroup, as the process runtime signals its group: no podman
    // process to wait for, and the command's children get SIGTERM even where PID 1 ignores it.
    if (ref.cgroup !== null) {
      signalCgroup(ref.cgroup, signal);
      return;
    }
    if (ref.pid > 0 && isLiveProcess(ref.pid, ref.startTimeTicks)) {
      try {
        process.kill(ref.pid, signal);
      } catch {
        // Gone meanwhile.
      }
    }
  }

  alive(ref: RuntimeRef): boolean {
    return ref.kind === 'container' && containerAlive(ref);
  }

  pids(ref: RuntimeRef): number[] {
    if (ref.kind !== 'container') return [];
    if (ref.cgroup !== null) return cgroupPids(ref.cgroup);
    return containerAlive(ref) ? [ref.pid] : [];
  }

  freeze(ref: RuntimeRef, frozen: boolean): Result<void> {
    if (ref.kind !== 'container' || ref.cgroup === null) {
      return failed('this container has no cgroup the agent can freeze', {});
    }
    return freezeCgroup(ref.cgroup, frozen);
  }

  async release(ref: RuntimeRef): Promise<void> {
    if (ref.kind !== 'container') return;
    // A v1-frozen process takes SIGKILL only once thawed; `-t 0` skips podman's SIGTERM wait
    // (10 s for a frozen container, measured).
    if (ref.cgroup !== null) freezeCgroup(ref.cgroup, false);
    const ended = this.running.get(ref.id);
    if (ended !== undefined) {
      // Still running: kill it and let its `ended` read the exit before `rm` erases it.
      this.signal(ref, 'SIGKILL');
      await Promise.race([ended, sleep(RELEASE_SETTLE_MS)]);
      this.watch.remove(ref.id);
    }
    const r = await this.podman(['rm', '-f', '-t', '0', ref.id], { timeoutMs: this.cfg.commandTimeoutMs });
    if (r.exitCode !== 0 && !/no such container/i.test(r.stderr)) {
      this.cfg.logger.warn('podman rm failed', { id: ref.id, said: podmanSaid(r) });
    }
  }
}

/** How long a release waits for a killed container's end to be read before removing it anyway. */
const RELEASE_SETTLE_MS = 5000;

function missingEnd(ref: ContainerRef): PodEnd {
  return {
    exitCode: null,
    signal: null,
    reason: `ContainerMissing: container ${ref.name} (${ref.id.slice(0, 12)}) no longer exists on this node, so how it ended is unknown`,
  };
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
