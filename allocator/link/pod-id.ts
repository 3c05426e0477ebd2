/**
 * The wire names a pod by one string; the store by (workload id, pod name). `<workload>_<pod>` joins
 * them within the agent's pod-id alphabet ([A-Za-z0-9._-]): workload ids are UUIDs and pod names
 * DNS labels (`<workload name>-N`), neither ever holds an underscore, so the first one splits.
 */

/** The separator between workload id and pod name. */
const SEP = '_';

/** The wire podId of a stored pod. */
export function wirePodId(workload: string, pod: string): string {
  return `${workload}${SEP}${pod}`;
}

/** The stored (workload, pod) of a wire podId, or null when it has no separator to split on. */
export function parseWirePodId(podId: string): { workload: string; pod: string } | null {
  const i = podId.indexOf(SEP);
  if (i <= 0 || i === podId.length - 1) return null;
  return { workload: podId.slice(0, i), pod: podId.slice(i + 1) };
}
