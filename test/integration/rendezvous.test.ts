/**
 * Distributed rendezvous through real processes: two sim agents on loopback with their own port
 * ranges, a `distributed` workload of 4 pods submitted with the CLI (--framework, --port), each
 * pod dumping its env and binding its rendezvous port. Pods of one node get distinct ports, every
 * pod names pod 0 as its master, ranks run 0..3, and `describe` shows the ports and the peers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { until } from './harness.ts';
import { useCluster } from './use-cluster.ts';

const ENV_DUMP = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures/env-dump.mjs');

interface Dump {
  env: Record<string, string>;
  bound?: number;
  bindError?: string;
}

describe('distributed rendezvous over loopback', () => {
  const { cluster, tessera } = useCluster({ n1: '2xH100-80GB', n2: '2xH100-80GB' });

  it('gives 4 pods over 2 nodes distinct ports and one master, ranks 0..3, shown by describe', async () => {
    const c = cluster();
    const dump = c.journal('ddp-env');
    const submit = await tessera(
      'submit',
      'distributed',
      'ddp',
      '-p',
      c.defaultProject,
      '--replicas',
      '4',
      '--gpu',
      '1',
      '--framework',
      'pytorch',
      '--port',
      'metrics',
      '-e',
      `DUMP=${dump}`,
      '--',
      process.execPath,
      ENV_DUMP,
    );
    expect(submit.code, submit.stderr).toBe(0);
    const read = (): Dump[] =>
      readFileSync(dump, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Dump);
    await until(() => read().length >= 4, 'four pods to dump their env', 30_000, 100);
    const dumps = read().sort((a, b) => Number(a.env.RANK) - Number(b.env.RANK));
    expect(dumps.map((d) => d.bindError ?? null)).toEqual([null, null, null, null]);
    expect(dumps.map((d) => d.env.RANK)).toEqual(['0', '1', '2', '3']);
    expect(dumps.map((d) => d.env.TESSERA_POD_INDEX)).toEqual(['0', '1', '2', '3']);
    const master = dumps[0]?.env ?? {};
    for (const d of dumps) {
      expect(d.env).toMatchObject({
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: master.TESSERA_PORT_RENDEZVOUS,
        PET_MASTER_PORT: master.TESSERA_PORT_RENDEZVOUS,
        WORLD_SIZE: '4',
        NNODES: '4',
        PET_NNODES: '4',
        NPROC_PER_NODE: '1',
        NODE_RANK: d.env.RANK,
        PET_NODE_RANK: d.env.RANK,
        TESSERA_PEERS: dumps.map((x) => `127.0.0.1:${x.env.TESSERA_PORT_RENDEZVOUS}`).join(','),
      });
      // The first port is the implicit rendezvous one; the spec's own follows it.
      expect(d.env.PORT).toBe(d.env.TESSERA_PORT_RENDEZVOUS);
      expect(d.env.TESSERA_PORT_METRICS).toMatch(/^\d+$/);
    }
    // Two nodes of one machine: every host port of every pod is different (each node's range is its own).
    const ports = dumps.flatMap((d) => [d.env.TESSERA_PORT_RENDEZVOUS, d.env.TESSERA_PORT_METRICS]);
    expect(new Set(ports).size).toBe(8);

    const shown = await tessera('describe', 'ddp', '-p', c.defaultProject, '-o', 'json');
    expect(shown.code, shown.stderr).toBe(0);
    const view = JSON.parse(shown.stdout) as {
      framework: string;
      ports: { name: string }[];
      endpoints: { pod: string; node: string; address: string; ports: Record<string, number> }[];
      pods: { name: string; node: string; ports: Record<string, number> }[];
    };
    expect(view.framework).toBe('pytorch');
    expect(view.ports.map((p) => p.name)).toEqual(['rendezvous', 'metrics']);
    expect(new Set(view.pods.map((p) => p.node))).toEqual(new Set(['n1', 'n2']));
    const text = await tessera('describe', 'ddp', '-p', c.defaultProject);
    expect(text.stdout).toContain('Framework:');
    expect(text.stdout).toMatch(
      /Peers:\s+127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+/,
    );
    expect(text.stdout).toContain('rendezvous=');
  }, 60_000);
});
