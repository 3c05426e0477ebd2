/** What the runner starts and reports: the agent side of a pod assignment (docs/architecture.md §4 and §5). */
import type { GpuGrant } from '../../common/resources.ts';

/** One pod the allocator assigned to this node. */
export interface PodSpec {
  podId: string;
  workload: string;
  project: string;
  /** Grows on every reassignment; the agent acts only on the newest it has seen (fencing). */
  epoch: number;
  command: string[];
  env: Readonly<Record<string, string>>;
  /**
   * The allocator's variables for the pod (its ports, index, peers, rendezvous): unlike `env`, its
   * TESSERA_* names are kept; its other names give way to `env`'s. Absent: none.
   */
  networkEnv?: Readonly<Record<string, string>>;
  /** Working directory; default: the pod's own directory under the agent's data dir. */
  workingDir?: string;
  grants: GpuGrant[];
  priority: number;
  /** Seconds between SIGTERM and SIGKILL on stop. */
  graceSeconds: number;
  /** When the pod counts as ready; default: the runner's (a stdout line starting with `READY`). */
  readiness?: ReadinessSpec;
  /**
   * Stop it after this long without a frame from the allocator (disconnect policy `reschedule`);
   * absent: `keep`, never stopped for want of the allocator. The fence guard reads it too.
   */
  rescheduleAfterMs?: number;
  /** An OCI image reference; absent: the process runtime runs `command` on the host. */
  image?: string;
  /** Default `IfNotPresent`. */
  imagePullPolicy?: PullPolicy;
  /** The registry login for pulling `image`; used at start only and never written to the checkpoint. */
  pullCredential?: RegistryCredential;
  /** Who the pod runs as; absent: the runtime's default (an unprivileged user on the process runtime, the image's user in a container). */
  runAsUser?: number;
  runAsGroup?: number;
  /** Host paths an admin policy allowed, bound into the pod's filesystem. */
  mounts?: PodMount[];
  /** CPU limit in milli-cores; absent or 0: none. */
  cpuMillis?: number;
  /** Memory limit in MiB, enforced by the pod's cgroup (a container over it ends `OOMKilled`); absent or 0: none. */
  memoryMiB?: number;
}

/** When the runtime pulls a pod's image: only when absent (default), before every start, or never. */
export type PullPolicy = 'IfNotPresent' | 'Always' | 'Never';

/** A login to one registry, as the allocator resolves a workload's `imagePullSecret`. */
export interface RegistryCredential {
  /** Registry host[:port], e.g. `nvcr.io` or `localhost:5000`. */
  server: string;
  username: string;
  password: string;
}

/** A host path bound into a pod. */
export interface PodMount {
  hostPath: string;
  containerPath: string;
  readOnly: boolean;
}

/**
 * How the runner decides a pod is ready. Either signal suffices: the first stdout line starting with
 * `linePrefix`, or `delayMs` after start with the process still alive. `linePrefix: null` turns the
 * line check off; `delayMs: null` (the default) means a pod that never prints the line stays `running`.
 * With a `probe`, the probe alone decides (both rules are off), and it can take readiness back.
 */
export interface ReadinessSpec {
  /** Default `'READY'`, so both the line `READY` and `READY port=8080` count. */
  linePrefix?: string | null;
  delayMs?: number | null;
  /** Default none. */
  probe?: ProbeSpec | null;
}

/**
 * A readiness probe against 127.0.0.1:`port` (probe.ts): the pod is `ready` once one check passes,
 * and back to `running` after `failureThreshold` consecutive failures.
 */
export interface ProbeSpec {
  /** `http`: a GET of `path` must answer 200-399; `tcp`: a connection must open. */
  kind: 'http' | 'tcp';
  port: number;
  /** `http` only; null for `tcp`. */
  path: string | null;
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  failureThreshold: number;
}

/**
 * Where a pod's process is in its life on this node. `lost`: on adopt, the recorded pid belonged to
 * another process (PID reuse), so the pod ended while the agent was down and nothing more is known.
 */
export type PodRunState = 'starting' | 'running' | 'ready' | 'stopping' | 'exited' | 'lost' | 'swapped-out';

/** What the runner knows of a pod it runs or ran. */
export interface PodStatus {
  podId: string;
  epoch: number;
  state: PodRunState;
  pid: number | null;
  /** Process start time from /proc/<pid>/stat (clock ticks since boot): detects PID reuse on adopt. */
  startTimeTicks: number | null;
  startedAtMs: number | null;
  exitCode: number | null;
  signal: string | null;
  /** Why it ended when the agent ended it (e.g. `GPU OOM: used 5200 MiB > limit 4096 MiB`). */
  reason: string | null;
  /** True when this agent re-attached to the pod after a restart (its exit code cannot be known). */
  adopted: boolean;
}
