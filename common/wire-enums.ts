/**
 * The enum names of Tessera's frames (wire-types.ts) against the numbers of the messages generated
 * from `common/proto/tessera.proto`, one table per enum, read by wire-encode.ts and wire-decode.ts.
 */
import * as pb from './proto/gen/tessera.ts';
import type { WireLogStream } from './wire-log-types.ts';
import type { SwapDirection, WireMigMode, WirePodState } from './wire-types.ts';
import type { PullPolicy } from './workload-container.ts';
import type { ProbeKind } from './workload-probe.ts';

// Each table maps every TypeScript name to its proto number; the compiler checks it is complete.
// 0 (UNSPECIFIED, the proto3 default) is in none of them, so a peer that leaves an enum unset is refused.
export const POD_STATES: Record<WirePodState, pb.PodState> = {
  starting: pb.PodState.POD_STATE_STARTING,
  running: pb.PodState.POD_STATE_RUNNING,
  ready: pb.PodState.POD_STATE_READY,
  stopping: pb.PodState.POD_STATE_STOPPING,
  exited: pb.PodState.POD_STATE_EXITED,
  lost: pb.PodState.POD_STATE_LOST,
  'swapped-out': pb.PodState.POD_STATE_SWAPPED_OUT,
};
export const MIG_MODES: Record<WireMigMode, pb.MigMode> = {
  enabled: pb.MigMode.MIG_MODE_ENABLED,
  disabled: pb.MigMode.MIG_MODE_DISABLED,
  unsupported: pb.MigMode.MIG_MODE_UNSUPPORTED,
};
export const SWAP_DIRECTIONS: Record<SwapDirection, pb.SwapDirection> = {
  in: pb.SwapDirection.SWAP_DIRECTION_IN,
  out: pb.SwapDirection.SWAP_DIRECTION_OUT,
};
export const LOG_STREAMS: Record<WireLogStream, pb.LogStream> = {
  stdout: pb.LogStream.LOG_STREAM_STDOUT,
  stderr: pb.LogStream.LOG_STREAM_STDERR,
  both: pb.LogStream.LOG_STREAM_BOTH,
};
export const PROBE_KINDS: Record<ProbeKind, pb.ProbeKind> = {
  http: pb.ProbeKind.PROBE_KIND_HTTP,
  tcp: pb.ProbeKind.PROBE_KIND_TCP,
};
export const PULL_POLICIES: Record<PullPolicy, pb.PullPolicy> = {
  IfNotPresent: pb.PullPolicy.PULL_POLICY_IF_NOT_PRESENT,
  Always: pb.PullPolicy.PULL_POLICY_ALWAYS,
  Never: pb.PullPolicy.PULL_POLICY_NEVER,
};
