import { describe, expect, it } from 'vitest';
import {
  type GangMember,
  gangComplete,
  hostfile,
  networkEnv,
  type RendezvousSpec,
} from '../../../allocator/service/rendezvous.ts';
import type { Framework } from '../../../common/workload.ts';

/** Four pods over two nodes, two each, as the allocator would have placed them. */
const GANG: GangMember[] = [
  { address: '10.0.0.1', ports: { rendezvous: 40000, metrics: 40001 } },
  { address: '10.0.0.1', ports: { rendezvous: 40002, metrics: 40003 } },
  { address: '10.0.0.2', ports: { rendezvous: 40000, metrics: 40001 } },
  { address: '10.0.0.2', ports: { rendezvous: 40002, metrics: 40003 } },
];

const spec = (framework: Framework, env: Record<string, string> = {}): RendezvousSpec => ({
  type: 'distributed',
  ports: [{ name: 'rendezvous' }, { name: 'metrics' }],
  env,
  framework,
});

const PEERS = '10.0.0.1:40000,10.0.0.1:40002,10.0.0.2:40000,10.0.0.2:40002';

describe('rendezvous env', () => {
  it("gives every pod its ports by name, PORT (the first), its index and every peer's rendezvous endpoint", () => {
    const env = networkEnv(spec('none'), GANG, 1);
    expect(env).toEqual({
      TESSERA_POD_INDEX: '1',
      TESSERA_PORT_RENDEZVOUS: '40002',
      TESSERA_PORT_METRICS: '40003',
      PORT: '40002',
      TESSERA_PEERS: PEERS,
    });
  });

  it('pytorch: MASTER_ADDR/PORT are pod 0, WORLD_SIZE the pods, RANK and NODE_RANK the index, and the PET_* forms torchrun reads', () => {
    for (const i of [0, 1, 2, 3]) {
      expect(networkEnv(spec('pytorch'), GANG, i)).toMatchObject({
        MASTER_ADDR: '10.0.0.1',
        MASTER_PORT: '40000',
        WORLD_SIZE: '4',
        RANK: String(i),
        NODE_RANK: String(i),
        NNODES: '4',
        NPROC_PER_NODE: '1',
        PET_MASTER_ADDR: '10.0.0.1',
        PET_MASTER_PORT: '40000',
        PET_NNODES: '4',
        PET_NODE_RANK: String(i),
        PET_NPROC_PER_NODE: '1',
      });
    }
  });

  it("pytorch: NPROC_PER_NODE from the spec's env also sets PET_NPROC_PER_NODE", () => {
    const env = networkEnv(spec('pytorch', { NPROC_PER_NODE: '8' }), GANG, 2);
    expect(env).toMatchObject({ NPROC_PER_NODE: '8', PET_NPROC_PER_NODE: '8', WORLD_SIZE: '4' });
  });

  it('tensorflow: TF_CONFIG lists every worker in index order and names this task', () => {
    const env = networkEnv(spec('tensorflow'), GANG, 3);
    expect(JSON.parse(env.TF_CONFIG ?? '')).toEqual({
      cluster: { worker: PEERS.split(',') },
      task: { type: 'worker', index: 3 },
    });
    expect(env.MASTER_ADDR).toBeUndefined();
  });

  it('jax: the coordinator is pod 0, with the number of processes and this process id', () => {
    expect(networkEnv(spec('jax'), GANG, 2)).toMatchObject({
      JAX_COORDINATOR_ADDRESS: '10.0.0.1:40000',
      JAX_NUM_PROCESSES: '4',
      JAX_PROCESS_ID: '2',
    });
  });

  it('mpi: pod 0 is the launcher and every pod gets a hostfile with a slot per pod on each address', () => {
    const launcher = networkEnv(spec('mpi'), GANG, 0);
    const worker = networkEnv(spec('mpi'), GANG, 1);
    expect(launcher.TESSERA_MPI_ROLE).toBe('launcher');
    expect(worker.TESSERA_MPI_ROLE).toBe('worker');
    expect(launcher.TESSERA_HOSTFILE).toBe('10.0.0.1 slots=2\n10.0.0.2 slots=2');
    expect(hostfile(GANG.slice(0, 3))).toBe('10.0.0.1 slots=2\n10.0.0.2 slots=1');
  });

  it('none: only Tessera variables', () => {
    const env = networkEnv(spec('none'), GANG, 0);
    expect(Object.keys(env).every((k) => k.startsWith('TESSERA_') || k === 'PORT')).toBe(true);
  });

  it('brackets an IPv6 address in endpoints', () => {
    const v6: GangMember[] = [{ address: 'fd00::1', ports: { rendezvous: 40000, metrics: 40001 } }];
    expect(networkEnv(spec('jax'), v6, 0)).toMatchObject({
      TESSERA_PEERS: '[fd00::1]:40000',
      JAX_COORDINATOR_ADDRESS: '[fd00::1]:40000',
    });
  });

  it('a workload of another type gets ports and peers by its first port, and no framework variables', () => {
    const inference: RendezvousSpec = { type: 'inference', ports: [{ name: 'http' }], env: {} };
    const replicas: GangMember[] = [
      { address: '10.0.0.1', ports: { http: 40005 } },
      { address: '10.0.0.2', ports: { http: 40001 } },
    ];
    expect(networkEnv(inference, replicas, 1)).toEqual({
      TESSERA_POD_INDEX: '1',
      TESSERA_PORT_HTTP: '40001',
      PORT: '40001',
      TESSERA_PEERS: '10.0.0.1:40005,10.0.0.2:40001',
    });
  });

  it('a gang is complete only when every pod has an address and every port', () => {
    expect(gangComplete(spec('pytorch'), GANG)).toBe(true);
    expect(gangComplete(spec('pytorch'), [...GANG, { address: null, ports: {} }])).toBe(false);
    expect(gangComplete(spec('pytorch'), [{ address: '10.0.0.1', ports: { rendezvous: 1 } }])).toBe(false);
  });
});
