/**
 * A pod's host port by name, as dispatch needs it for the StartPod's readiness probe. The allocator
 * assigns host ports at bind time and stores them with the pod (store/ports.ts, PodRecord.ports).
 */

/** The host port of port `name` among a pod's `ports`, or undefined when it has none. */
export function hostPortOf(ports: Readonly<Record<string, number>>, name: string): number | undefined {
  return Object.hasOwn(ports, name) ? ports[name] : undefined;
}
