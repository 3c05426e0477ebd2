/**
 * The runner: starts, watches, stops and adopts the pods assigned to this node through a PodRuntime
 * (agent/runtime/, docs/architecture.md §4).
 *   runner.ts      createRunner: the API the allocator link and enforcement call
 *   admission.ts   whether a pod may start now: id, epoch, command, fencing (pure)
 *   pods.ts        the pod table: lifecycle, launches through the runtime, readiness, adoption, checkpointing
 *   pod-entry.ts   one pod as the table holds it; end reasons; a spec without its pull credential
 *   launch.ts      prepareLaunch: grants checked, the pod's env built, its log files rotated and opened
 *   env.ts         podEnv: visible GPUs, fraction, limits, HAMi-core and MPS variables (pure); podProcessEnv: all of a pod's env
 *   logs.ts        per-pod log files the pods write directly, rotation, readLogTail
 *   watch.ts       the periodic look at a pod's logs: rotation and the readiness line
 *   readiness.ts   the readiness line matcher (pure)
 *   probe.ts       the readiness prober: when to check and what a result does (pure), one timer per pod
 *   probe-check.ts one HTTP or TCP readiness check against 127.0.0.1:port, with a deadline
 *   proc.ts        /proc: start times (PID reuse), process groups, signalling a group (the process runtime's fallback)
 *   checkpoint.ts  the durable record of what runs, read back with validation
 *   guard-record.ts  the pods the fence guard killed, and the end reason they get (`lease lost`)
 *   lifecycle.ts   the run-state transition table
 *   types.ts       PodSpec, PodStatus
 */
export {
  type CheckpointPod,
  checkpointPath,
  type RunnerCheckpoint,
  readCheckpoint,
} from './checkpoint.ts';
export {
  grantProblems,
  inheritedEnv,
  type NodeEnvInfo,
  type NodeGpu,
  podEnv,
  podProcessEnv,
} from './env.ts';
export {
  endReason,
  type GuardFenced,
  guardFencedPath,
  REASON_GUARD_FENCED,
  readGuardFenced,
} from './guard-record.ts';
export { canRunStateTransition, isEnded, RUN_STATE_TRANSITIONS } from './lifecycle.ts';
export { DEFAULT_LOG_ROTATION, type LogRotation, type LogStream, logPath, readLogTail } from './logs.ts';
export { groupPids, isLiveProcess, isSameProcess, processStartTime } from './proc.ts';
export { DEFAULT_READINESS } from './readiness.ts';
export {
  type AdoptReport,
  createRunner,
  type PodRuntimeEvent,
  podDirOf,
  REASON_EXITED_ADOPTED,
  REASON_EXITED_WHILE_DOWN,
  REASON_NOT_RECORDED,
  type Runner,
  type RunnerOptions,
} from './runner.ts';
export type {
  PodMount,
  PodRunState,
  PodSpec,
  PodStatus,
  ProbeSpec,
  PullPolicy,
  ReadinessSpec,
  RegistryCredential,
} from './types.ts';
