/**
 * The wire names a pod by one string; the store by (workload id, pod name). `<workload>/<pod>`
 * joins them: pod names are `<workload name>-N` and never hold a slash, so the last slash splits.
 */

/** The wire podId of a stored pod. */
export function wirePodId(workload: string, pod: string): string {
  return `${workload}/${pod}`;
}

/** The stored (workload, pod) of a wire podId, or null when it has no slash to split on. */
export function parseWirePodId(podId: string): { workload: string; pod: string } | null {
  const i = podId.lastIndexOf('/');
  if (i <= 0 || i === podId.length - 1) return null;
  return { workload: podId.slice(0, i), pod: podId.slice(i + 1) };
}
