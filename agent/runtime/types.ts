/**
 * The runtime contract: how the runner has a pod's processes started, found again after an agent
 * restart, signalled, frozen and cleaned up, whatever starts them (docs/architecture.md §4). Two
 * implementations: `process` (a host process tree in its own cgroup, as an unprivileged user) and
 * `container` (Podman with runc). The runner keeps the table, the checkpoint and the pod's
 * lifecycle; a runtime knows only how to run one pod.
 */
import type { Result } from '../../common/errors.ts';
import type { PodSpec } from '../runner/types.ts';
import type { PodCgroup } from './cgroup.ts';

/** Which runtime runs a pod. */
export type RuntimeKind = 'process' | 'container';

/**
 * What finds a pod again after the agent restarts; recorded in the runner's checkpoint. `pid` and
 * `startTimeTicks` name the pod's main process on the host (PID reuse shows as a different start
 * time). `cgroup` holds every process of the pod, so a stop or the fence guard reaches a `setsid`
 * grandchild too; null only where the host gave the agent no cgroup to write.
 */
export type RuntimeRef =
  | {
      kind: 'process';
      pid: number;
      startTimeTicks: number;
      cgroup: PodCgroup | null;
      /** The uid and gid the pod runs as, so a restarted agent gives no other pod the same ids; absent in older checkpoints. */
      uid?: number;
      gid?: number;
    }
  | {
      kind: 'container';
      /** Podman's full container id. */
      id: string;
      /** `tessera-<podId>-e<epoch>`, unique per node; the labels carry pod id and epoch too. */
      name: string;
      /** 0 when the container had already ended by the time podman was asked (a command that exits at once). */
      pid: number;
      startTimeTicks: number;
      cgroup: PodCgroup | null;
    };

/** How a pod ended, as far as its runtime can tell. */
export interface PodEnd {
  exitCode: number | null;
  signal: string | null;
  /** Why, when the runtime knows more than the exit: `OOMKilled`, `ImagePullFailed: <registry's message>`. */
  reason: string | null;
}

/** Progress a runtime reports while it starts a pod (the pod's Initializing work). */
export type RuntimeEventKind = 'image-pulling' | 'image-pulled' | 'image-pull-retry' | 'container-created';

/** What the runner hands a runtime to start one pod. */
export interface LaunchRequest {
  spec: PodSpec;
  /** The pod's directory in the agent's data dir (logs, events); never visible to the pod. */
  podDir: string;
  /** Open files for the pod's stdout and stderr; the runtime gives them to the pod, the caller closes its copies after `launch` settles. */
  stdoutFd: number;
  stderrFd: number;
  /** The pod's whole environment (the runner builds it; the runtime adds nothing of the agent's). */
  env: Readonly<Record<string, string>>;
  /** Progress lines for the pod's events and the allocator. */
  onEvent: (kind: RuntimeEventKind, message: string, numbers?: Readonly<Record<string, number>>) => void;
  /** Aborted when the pod is stopped while it is still starting (a long pull). */
  signal: AbortSignal;
}

/** A pod whose main process runs. */
export interface LaunchedPod {
  ref: RuntimeRef;
  /** Resolves once the pod has ended, with what is known of how; never rejects. */
  ended: Promise<PodEnd>;
}

/** One way of running pods; see the file comment. */
export interface PodRuntime {
  readonly kind: RuntimeKind;
  /** Starts the pod; an error value says why not (`ImagePullFailed: ...`, a bad working dir, ...). */
  launch(req: LaunchRequest): Promise<Result<LaunchedPod>>;
  /**
   * Re-attaches to a pod recorded before an agent restart: `running` with a fresh `ended` promise,
   * or `ended` with what is known of the end (a container's exit code and OOM flag survive it).
   */
  adopt(ref: RuntimeRef, spec: PodSpec): Promise<{ running: LaunchedPod } | { ended: PodEnd }>;
  /** Sends `signal` to every process of the pod (its cgroup, else its process group). */
  signal(ref: RuntimeRef, signal: 'SIGTERM' | 'SIGKILL'): void;
  /** True while any process of the pod lives. */
  alive(ref: RuntimeRef): boolean;
  /** The host pids of the pod's live processes: maps GPU processes to pods. */
  pids(ref: RuntimeRef): number[];
  /** Freezes or thaws every process of the pod (time-slicing); by the cgroup freezer where there is one. */
  freeze(ref: RuntimeRef, frozen: boolean): Result<void>;
  /** Frees what the ended pod held on the node (its container, its cgroup); idempotent. */
  release(ref: RuntimeRef): Promise<void>;
}
