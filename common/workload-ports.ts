/**
 * The network part of a workload spec: `ports` (named host ports each pod gets) and `framework`
 * (the rendezvous convention of a distributed workload). Their input schema, what each accepts, and
 * the normaliser; `workload.ts` merges these into the spec as it does `workload-container.ts`.
 *
 * Pods run with host networking (the process runtime, and containers with `--network host`), so
 * two pods on one node would collide on any fixed port. A pod therefore names its ports and the
 * allocator assigns each name a host port from its node's range at bind time; the pod reads them
 * from `TESSERA_PORT_<NAME>` and `PORT` (allocator/service/rendezvous.ts).
 */
import { z } from 'zod';
import { err, ok, type Result } from './errors.ts';
import type { SpecFieldError } from './workload-resources.ts';

/** The rendezvous convention a distributed workload's pods are given (allocator/service/rendezvous.ts). */
export type Framework = 'pytorch' | 'mpi' | 'tensorflow' | 'jax' | 'none';

/** Every framework; `pytorch` is the default of a distributed workload. */
export const FRAMEWORKS = [
  'pytorch',
  'mpi',
  'tensorflow',
  'jax',
  'none',
] as const satisfies readonly Framework[];

/** A named host port of a pod, normalised. */
export interface WorkloadPort {
  name: string;
}

/** The network part of a validated spec. `framework` is set for a distributed workload only. */
export interface PortFields {
  /** In the order given; a distributed workload's starts with `rendezvous`. */
  ports: WorkloadPort[];
  framework?: Framework;
}

/** The port every pod of a distributed workload gets, for its peers to find it: MASTER_PORT and the like. */
export const RENDEZVOUS_PORT = 'rendezvous';

/**
 * Named ports per pod. Each one is a host port taken from its node's range for the pod's life, so a
 * handful is plenty (a server, a metrics port, a debugger) and a node's range is not drained by one
 * pod.
 */
export const MAX_PORTS_PER_POD = 8;

// A port name becomes part of an environment variable name (TESSERA_PORT_<NAME>), so it is a
// DNS-1123 label as Kubernetes' port names are, short enough for any shell.
const PORT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MAX_PORT_NAME_CHARS = 63;

/** One entry of `ports`, before normalisation. */
export const PortInput = z.strictObject({ name: z.string() });

/** The network fields of a spec's input schema, spread into it by workload.ts. */
export const PORTS_INPUT_SHAPE = {
  ports: z.array(PortInput).max(MAX_PORTS_PER_POD).optional(),
  framework: z.enum(FRAMEWORKS).optional(),
};

const PortsInput = z.strictObject(PORTS_INPUT_SHAPE);
type PortsIn = z.infer<typeof PortsInput>;

const NAME_HELP = `a DNS-1123 label of at most ${MAX_PORT_NAME_CHARS} characters: lowercase letters, digits and '-' (e.g. 'http')`;

/** What each network field accepts, keyed by dotted path (array indices as '*'). */
export const PORTS_FIELD_HELP: Readonly<Record<string, string>> = {
  ports: `a list of at most ${MAX_PORTS_PER_POD} named host ports each pod gets, [{name}] (e.g. [{"name": "http"}]); the pod reads them from TESSERA_PORT_<NAME> and PORT`,
  'ports.*': 'an object {name}',
  'ports.*.name': NAME_HELP,
  framework: `the rendezvous variables a distributed workload's pods get: one of ${FRAMEWORKS.join(', ')} (default pytorch; only with type distributed)`,
};

/** The environment variable that carries port `name`'s host port: TESSERA_PORT_ plus the name upper-cased, '-' as '_'. */
export function portEnvName(name: string): string {
  return `TESSERA_PORT_${name.toUpperCase().replaceAll('-', '_')}`;
}

/**
 * Validates and normalises the network fields of a spec already through the input schema. A
 * distributed workload gets the `rendezvous` port first unless it lists one itself.
 */
export function normalisePorts(s: PortsIn, type: string, specError: SpecFieldError): Result<PortFields> {
  const ports: WorkloadPort[] = [];
  const seen = new Map<string, number>();
  for (const [i, p] of (s.ports ?? []).entries()) {
    if (p.name.length > MAX_PORT_NAME_CHARS || !PORT_NAME.test(p.name))
      return err(specError(`ports.${i}.name`, `${JSON.stringify(p.name)} is not a port name`));
    // Two names may differ only where the env name does not ('a-b' and 'a_b' cannot be: '_' is refused).
    const before = seen.get(p.name);
    if (before !== undefined)
      return err(
        specError(`ports.${i}.name`, `${JSON.stringify(p.name)} is listed twice (also ports.${before})`),
      );
    seen.set(p.name, i);
    ports.push({ name: p.name });
  }
  if (type !== 'distributed') {
    if (s.framework !== undefined)
      return err(
        specError(
          'framework',
          `applies only to a distributed workload, and this one is ${type}; use type distributed or leave framework out`,
        ),
      );
    return ok({ ports });
  }
  if (!seen.has(RENDEZVOUS_PORT)) {
    if (ports.length >= MAX_PORTS_PER_POD)
      return err(
        specError(
          'ports',
          `a distributed workload's pods also get the port ${RENDEZVOUS_PORT}, so list at most ${MAX_PORTS_PER_POD - 1} others`,
        ),
      );
    ports.unshift({ name: RENDEZVOUS_PORT });
  }
  return ok({ ports, framework: s.framework ?? 'pytorch' });
}

/** The port a pod's peers reach it at: `rendezvous` for a distributed workload, else its first port; null: none. */
export function peerPortName(spec: { type: string; ports: readonly WorkloadPort[] }): string | null {
  if (spec.type === 'distributed' && spec.ports.some((p) => p.name === RENDEZVOUS_PORT))
    return RENDEZVOUS_PORT;
  return spec.ports[0]?.name ?? null;
}

/** `address:port`, with an IPv6 address in brackets. */
export function endpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
