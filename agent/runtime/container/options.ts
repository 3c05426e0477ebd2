/**
 * The container runtime's options, each with its default beside its meaning, normalised once into
 * a complete object (`normaliseOptions`); the rest of the runtime reads only that object.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from '../../../common/log.ts';

/** One resource limit for the container, soft and hard (`--ulimit name=soft:hard`). */
export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

/** How pulls are retried on transient errors (registry unreachable, 5xx, timeouts). */
export interface PullRetry {
  /** Extra attempts after the first; default 3. */
  retries: number;
  /** First delay; doubled each attempt up to `maxBackoffMs`. Default 1000 ms. */
  baseBackoffMs: number;
  /** Default 30000 ms. */
  maxBackoffMs: number;
}

/** What a caller may set; see `ContainerRuntimeConfig` for the defaults. */
export interface ContainerRuntimeOptions {
  nodeName: string;
  logger: Logger;
  podmanPath?: string;
  ulimits?: readonly Ulimit[];
  insecureRegistries?: readonly string[];
  pullRetry?: Partial<PullRetry>;
  cgroupParent?: string;
  cdiSpecDirs?: readonly string[];
  simStateDir?: string | null;
  initPath?: string | null;
  minorNumberOf?: (gpuUuid: string) => number | null;
  watchIntervalMs?: number;
  pullTimeoutMs?: number;
  commandTimeoutMs?: number;
}

/** The normalised options. */
export interface ContainerRuntimeConfig {
  /** This node's name: in each container's `tessera.node` label and the default cgroup parent. */
  nodeName: string;
  logger: Logger;
  /** The podman binary; default `podman` (from PATH). */
  podmanPath: string;
  /**
   * Passed as `--ulimit` to every container. Default: `nofile` and `nproc` at the agent's own hard
   * limits (`/proc/self/limits`), `nproc` capped at `kernel.pid_max`. runc sets them inside the
   * container and, without CAP_SYS_RESOURCE, may only lower them: podman's defaults (nofile
   * 1048576) fail with "error setting rlimit type 7: operation not permitted"; nproc above pid_max
   * failed the same way (type 6) on a host whose agent had nproc 96367 and pid_max 32768.
   */
  ulimits: readonly Ulimit[];
  /** Registries (`host:port`) pulled from over plain HTTP (`--tls-verify=false`); default none. */
  insecureRegistries: readonly string[];
  pullRetry: PullRetry;
  /** Cgroup under which podman puts each container (`--cgroup-parent`); default `/tessera/<nodeName>`. */
  cgroupParent: string;
  /** Where CDI specs are looked for (`nvidia-ctk cdi generate` writes them); default `/etc/cdi`, `/var/run/cdi`. */
  cdiSpecDirs: readonly string[];
  /** Simulated GPUs' state dir: bind-mounted at the same path into pods with grants; default null (real GPUs). */
  simStateDir: string | null;
  /**
   * An init for PID 1 (`--init --init-path`): forwards SIGTERM to the command and reaps orphans.
   * Default: catatonit where installed (`/usr/bin/catatonit`, `/usr/libexec/podman/catatonit`), else
   * null: the command is PID 1 and ignores SIGTERM unless it handles it (the stop then ends in SIGKILL).
   */
  initPath: string | null;
  /** The device minor of a GPU (`/dev/nvidia<minor>`), for hosts without a CDI spec; default: unknown. */
  minorNumberOf: (gpuUuid: string) => number | null;
  /** How often a running pod's cgroup is checked for its end; default 250 ms. */
  watchIntervalMs: number;
  /** One pull attempt's limit; default 15 minutes (large CUDA images). */
  pullTimeoutMs: number;
  /** Every other podman command's limit; default 60 s. */
  commandTimeoutMs: number;
}

const INIT_CANDIDATES = ['/usr/bin/catatonit', '/usr/libexec/podman/catatonit'];

/** Fills every default; the one place that reads the host for them. */
export function normaliseOptions(o: ContainerRuntimeOptions): ContainerRuntimeConfig {
  return {
    nodeName: o.nodeName,
    logger: o.logger,
    podmanPath: o.podmanPath ?? 'podman',
    ulimits: o.ulimits ?? defaultUlimits(readText('/proc/self/limits'), readText('/proc/sys/kernel/pid_max')),
    insecureRegistries: o.insecureRegistries ?? [],
    pullRetry: {
      retries: o.pullRetry?.retries ?? 3,
      baseBackoffMs: o.pullRetry?.baseBackoffMs ?? 1000,
      maxBackoffMs: o.pullRetry?.maxBackoffMs ?? 30_000,
    },
    cgroupParent: o.cgroupParent ?? `/tessera/${o.nodeName}`,
    cdiSpecDirs: o.cdiSpecDirs ?? ['/etc/cdi', '/var/run/cdi'],
    simStateDir: o.simStateDir ?? null,
    initPath: o.initPath === undefined ? (INIT_CANDIDATES.find((p) => existsSync(p)) ?? null) : o.initPath,
    minorNumberOf: o.minorNumberOf ?? (() => null),
    watchIntervalMs: o.watchIntervalMs ?? 250,
    pullTimeoutMs: o.pullTimeoutMs ?? 15 * 60_000,
    commandTimeoutMs: o.commandTimeoutMs ?? 60_000,
  };
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The default ulimits from `/proc/self/limits` and `kernel.pid_max` text (pure; see `ulimits`). */
export function defaultUlimits(limits: string, pidMax: string): Ulimit[] {
  const hard = (label: string, fallback: number): number => {
    const m = new RegExp(`^${label}\\s+(\\S+)\\s+(\\S+)`, 'm').exec(limits);
    const v = m?.[2];
    return v === undefined || v === 'unlimited' ? fallback : Number(v);
  };
  const max = Number(pidMax.trim());
  const pidCap = Number.isFinite(max) && max > 0 ? max : 32768;
  const nofile = hard('Max open files', 1024);
  const nproc = Math.min(hard('Max processes', pidCap), pidCap);
  return [
    { name: 'nofile', soft: nofile, hard: nofile },
    { name: 'nproc', soft: nproc, hard: nproc },
  ];
}
