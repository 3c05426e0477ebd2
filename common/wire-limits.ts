/**
 * The wire's caps on repeated fields and strings, which the codec enforces (wire-check.ts) and the
 * spec validators share (workload.ts, workload-container.ts, registry-secret.ts) so a spec the API
 * takes always fits a frame. Apart from the message types (wire-types.ts), which name those
 * validators' types: a cap read by both must not tie them into a loop.
 */

/**
 * Caps on repeated fields and strings. A 1 MiB frame can still hold hundreds of thousands of tiny
 * entries; these keep what a decoded frame can make the receiver allocate and loop over small and
 * predictable, well above what a real node sends (8 GPUs, tens of pods).
 */
export const WIRE_LIMITS = {
  /** GPUs in an inventory, samples in a Status, grants in a StartPod. */
  maxGpus: 1024,
  /** Pods in Hello.runningPods, Status.podStates, Welcome.desiredPods. */
  maxPods: 10_000,
  /** Arguments of a pod's command. */
  maxCommandArgs: 4096,
  /** Entries of a pod's env. */
  maxEnvEntries: 4096,
  /** Node labels. */
  maxLabels: 256,
  /** Named numbers on one Event. */
  maxEventNumbers: 64,
  /** Identifiers: node names, pod ids, GPU UUIDs, workload / project names, event kinds, map keys. */
  maxIdChars: 256,
  /** Free text: reasons, models, versions, tokens, label values, signal names, paths, image references. */
  maxTextChars: 4096,
  /** One command argument or env value (Linux caps one argument at 128 KiB; our frame is 1 MiB). */
  maxArgChars: 65_536,
  /** graceSeconds of a stop: a day; anything longer is a unit mistake. */
  maxGraceSeconds: 86_400,
  /** heartbeatMs and leaseMs: an hour at most. */
  maxIntervalMs: 3_600_000,
  /** Host paths bound into one pod. */
  maxMounts: 64,
  /**
   * A registry password or token. Cloud registries hand out tokens of a few KiB (ECR's is ~2 KiB,
   * some JWTs more), so this is larger than free text; still tiny against the frame.
   */
  maxSecretChars: 16_384,
} as const;
