/**
 * The host ports a pod was given on its node, by port name, as dispatch needs them for the
 * StartPod (the readiness probe's port). The allocator assigns them at bind time and stores them
 * with the pod.
 */
import type { PodRecord } from '../store/pods.ts';

/**
 * The host ports assigned to `pod`, by the spec's port names.
 *
 * MERGE SEAM: a stand-in that knows of no assignment (every pod has none). The port assignment
 * stores them with the pod; this body becomes a read of that record.
 */
export function podPorts(_pod: PodRecord): Readonly<Record<string, number>> {
  return {};
}

/** The host port of `pod`'s port `name`, or undefined when it has none. */
export function hostPortOf(ports: Readonly<Record<string, number>>, name: string): number | undefined {
  return Object.hasOwn(ports, name) ? ports[name] : undefined;
}
