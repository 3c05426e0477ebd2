/**
 * The `process` runtime (docs/architecture.md §4): pods as host process trees, isolated by cgroup,
 * uid and directory.
 *   runtime.ts   createProcessRuntime: the PodRuntime (launch, adopt, signal, freeze, release)
 *   wrapper.ts   the sh + setpriv argv that joins the cgroups and drops to the pod's uid (pure)
 *   ids.ts       the pod uid range and its allocator (pure)
 *   pod-root.ts  `<podRoot>/<podId>`: the pod's own 0700 directory
 */
export { createIdAllocator, DEFAULT_POD_UID_RANGE, type IdRange, parseIdRange } from './ids.ts';
export { podRootDir } from './pod-root.ts';
export { createProcessRuntime, type ProcessRuntimeOptions, REASON_OOM_KILLED } from './runtime.ts';
