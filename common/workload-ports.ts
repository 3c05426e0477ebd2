/**
 * The `ports` of a workload spec: the names of the ports each pod listens on. The allocator gives
 * every pod one host port per name (host networking: two pods on one node must never collide).
 *
 * Minimal form, enough for a readiness probe to name a port; the port assignment itself (node
 * ranges, env, placement) lives with the allocator.
 */
import { z } from 'zod';
import { err, ok, type Result } from './errors.ts';
import type { SpecFieldError } from './workload-resources.ts';

/** One named port of a pod. */
export interface WorkloadPort {
  /** A DNS label, unique within the spec (e.g. `http`, `metrics`). */
  name: string;
}

/** Most ports one pod may name: each costs a host port on its node. */
export const MAX_PORTS = 8;

const PORT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const PORT_NAME_HELP =
  "a DNS label of at most 15 characters: lowercase letters, digits and '-' (e.g. 'http')";

/** One entry of `ports`, before normalisation. */
export const PortInput = z.strictObject({ name: z.string() });

/** The ports field of a spec's input schema, spread into it by workload.ts. */
export const PORTS_INPUT_SHAPE = {
  ports: z.array(PortInput).max(MAX_PORTS).optional(),
};

/** What each ports field accepts, keyed by dotted path (array indices as '*'). */
export const PORTS_FIELD_HELP: Readonly<Record<string, string>> = {
  ports: `a list of at most ${MAX_PORTS} named ports each pod listens on: [{name}]`,
  'ports.*': 'an object {name}',
  'ports.*.name': PORT_NAME_HELP,
};

/** The ports part of a validated spec: absent when the spec names none. */
export interface PortsFields {
  ports?: WorkloadPort[];
}

/** Validates the names of `ports`: DNS labels of at most 15 characters, each once. */
export function normalisePorts(
  s: { ports?: { name: string }[] | undefined },
  specError: SpecFieldError,
): Result<PortsFields> {
  if (s.ports === undefined) return ok({});
  const seen = new Set<string>();
  for (const [i, p] of s.ports.entries()) {
    // 15: the IANA service-name limit Kubernetes applies to port names too.
    if (p.name.length > 15 || !PORT_NAME.test(p.name))
      return err(specError(`ports.${i}.name`, `${JSON.stringify(p.name)} is not a port name`));
    if (seen.has(p.name))
      return err(specError(`ports.${i}.name`, `${JSON.stringify(p.name)} is listed twice`));
    seen.add(p.name);
  }
  return ok({ ports: s.ports.map((p) => ({ name: p.name })) });
}
