/**
 * The environment that lets a workload's pods find each other: their own host ports by name, their
 * index among the workload's pods, every peer's endpoint and, for a distributed workload, the
 * rendezvous variables of its framework. Pure: the dispatcher reads the pods and nodes and calls
 * `networkEnv` for each StartPod.
 *
 * The conventions are the ones the frameworks' launchers read, as Kubeflow's training operators set
 * them:
 * - pytorch: MASTER_ADDR / MASTER_PORT (pod 0's address and rendezvous port), WORLD_SIZE (pods),
 *   RANK and NODE_RANK (the pod's index), NNODES, NPROC_PER_NODE, and the PET_* forms torchrun reads
 *   as its defaults (PET_MASTER_ADDR, PET_MASTER_PORT, PET_NNODES, PET_NODE_RANK,
 *   PET_NPROC_PER_NODE). One process per pod unless the spec's env sets NPROC_PER_NODE (a pod with
 *   several GPUs running torchrun --nproc-per-node); WORLD_SIZE and RANK stay per pod, as
 *   PyTorchJob's are, and torchrun recomputes them for its workers.
 * - tensorflow: TF_CONFIG, `{"cluster": {"worker": [host:port, ...]}, "task": {"type": "worker",
 *   "index": i}}`.
 * - jax: JAX_COORDINATOR_ADDRESS (pod 0's address:port), JAX_NUM_PROCESSES, JAX_PROCESS_ID, which
 *   `jax.distributed.initialize()` reads.
 * - mpi: pod 0 is the launcher (TESSERA_MPI_ROLE=launcher, the others worker) and TESSERA_HOSTFILE
 *   holds an Open MPI hostfile's text, one line per address with `slots=` the pods there; a pod has
 *   no file the allocator could write, so the launcher's command writes it (`printf '%s\n'
 *   "$TESSERA_HOSTFILE" > hostfile; mpirun --hostfile hostfile ...`).
 * - none: only Tessera's own variables.
 */
import type { Framework, WorkloadSpec } from '../../common/workload.ts';
import { endpoint, peerPortName, portEnvName, RENDEZVOUS_PORT } from '../../common/workload-ports.ts';

/** One pod of the workload as the rendezvous sees it: where it runs and its host ports. */
export interface GangMember {
  /** Its node's address; null: the node reports none (an older agent). */
  address: string | null;
  ports: Readonly<Record<string, number>>;
}

/** The spec fields the rendezvous reads. */
export type RendezvousSpec = Pick<WorkloadSpec, 'type' | 'ports' | 'env'> & { framework?: Framework };

export { endpoint } from '../../common/workload-ports.ts';

/** Each member's endpoint for its peers, in index order; null for a member without address or that port. */
export function peerEndpoints(
  spec: Pick<RendezvousSpec, 'type' | 'ports'>,
  members: readonly GangMember[],
): (string | null)[] {
  const name = peerPortName(spec);
  return members.map((m) => {
    const port = name === null ? undefined : m.ports[name];
    return m.address === null || port === undefined ? null : endpoint(m.address, port);
  });
}

/**
 * Whether every member has what the rendezvous needs (an address and every port): a distributed
 * pod's StartPod is held until then, since its env names all of them.
 */
export function gangComplete(spec: RendezvousSpec, members: readonly GangMember[]): boolean {
  return members.every((m) => m.address !== null && spec.ports.every((p) => m.ports[p.name] !== undefined));
}

/**
 * The env of pod `index` of `members` (the workload's pods, ordered by ordinal): its ports, its
 * index and peers, and its framework's rendezvous variables. The spec's own env is applied over it
 * by the caller, so a user's value wins.
 */
export function networkEnv(
  spec: RendezvousSpec,
  members: readonly GangMember[],
  index: number,
): Record<string, string> {
  const env: Record<string, string> = { TESSERA_POD_INDEX: String(index) };
  const self = members[index];
  if (self !== undefined) {
    for (const p of spec.ports) {
      const port = self.ports[p.name];
      if (port !== undefined) env[portEnvName(p.name)] = String(port);
    }
    const first = spec.ports[0] === undefined ? undefined : self.ports[spec.ports[0].name];
    if (first !== undefined) env.PORT = String(first);
  }
  const peers = peerEndpoints(spec, members);
  if (peers.length > 0 && peers.every((p) => p !== null)) env.TESSERA_PEERS = peers.join(',');
  if (spec.type !== 'distributed' || spec.framework === undefined) return env;
  return { ...env, ...frameworkEnv(spec, members, index, peers) };
}

/** The framework's own variables; empty when pod 0 has no rendezvous endpoint yet. */
function frameworkEnv(
  spec: RendezvousSpec,
  members: readonly GangMember[],
  index: number,
  peers: readonly (string | null)[],
): Record<string, string> {
  const master = members[0];
  const masterPort = master?.ports[RENDEZVOUS_PORT];
  if (master === undefined || master.address === null || masterPort === undefined) return {};
  const size = String(members.length);
  const rank = String(index);
  switch (spec.framework) {
    case 'pytorch': {
      const nproc = spec.env.NPROC_PER_NODE ?? '1';
      const addr = master.address;
      const port = String(masterPort);
      return {
        MASTER_ADDR: addr,
        MASTER_PORT: port,
        WORLD_SIZE: size,
        RANK: rank,
        NODE_RANK: rank,
        NNODES: size,
        NPROC_PER_NODE: nproc,
        PET_MASTER_ADDR: addr,
        PET_MASTER_PORT: port,
        PET_NNODES: size,
        PET_NODE_RANK: rank,
        PET_NPROC_PER_NODE: nproc,
      };
    }
    case 'tensorflow':
      return {
        TF_CONFIG: JSON.stringify({ cluster: { worker: peers }, task: { type: 'worker', index } }),
      };
    case 'jax':
      return {
        JAX_COORDINATOR_ADDRESS: endpoint(master.address, masterPort),
        JAX_NUM_PROCESSES: size,
        JAX_PROCESS_ID: rank,
      };
    case 'mpi':
      return { TESSERA_MPI_ROLE: index === 0 ? 'launcher' : 'worker', TESSERA_HOSTFILE: hostfile(members) };
    default:
      return {};
  }
}

/** An Open MPI hostfile: each address once, in order of first appearance, with its pods as slots. */
export function hostfile(members: readonly GangMember[]): string {
  const slots = new Map<string, number>();
  for (const m of members) if (m.address !== null) slots.set(m.address, (slots.get(m.address) ?? 0) + 1);
  return [...slots].map(([a, n]) => `${a} slots=${n}`).join('\n');
}
