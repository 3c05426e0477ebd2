/**
 * Policies and scheduling rules through real processes: an allocator and one sim agent;
 * `tessera policy set` and `tessera rule set` through the CLI, a submission refused by the policy
 * with the field and scope named, one given the policy's default, and a running workload stopped by
 * its max-runtime rule with the rule named in its event.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from './harness.ts';
import { useCluster } from './use-cluster.ts';

const cl = useCluster({ n1: '2xH100-80GB' });
const tessera = cl.tessera;
let c: Cluster;

beforeAll(() => {
  c = cl.cluster();
});

const SLEEPER = [process.execPath, '-e', 'setInterval(() => {}, 1000)'];

describe.sequential('policies and rules over real processes', () => {
  it('a project policy fills defaults and refuses what it forbids, naming field and scope', async () => {
    const file = join(c.root, 'policy.yaml');
    writeFileSync(
      file,
      'defaults:\n  resources.gpuFraction: 0.25\nrules:\n  resources.gpuFraction: { max: 0.5 }\n',
    );
    const set = await tessera('policy', 'set', `project/${c.defaultProject}`, 'training', '-f', file);
    expect(set.code, set.stderr).toBe(0);

    const refused = await tessera(
      'submit',
      'training',
      'big',
      '-p',
      c.defaultProject,
      '--gpu-fraction',
      '0.75',
      '--',
      ...SLEEPER,
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('TESSERA_E_POLICY_VIOLATION');
    expect(refused.stderr).toContain('resources.gpuFraction');
    expect(refused.stderr).toContain(`project:${c.defaultProject}`);

    const given = await tessera(
      'submit',
      'training',
      'small',
      '-p',
      c.defaultProject,
      '-o',
      'json',
      '--',
      ...SLEEPER,
    );
    expect(given.code, given.stderr).toBe(0);
    const w = JSON.parse(given.stdout) as { id: string; resources: { gpu: { kind: string; milli: number } } };
    expect(w.resources.gpu).toMatchObject({ kind: 'fraction', milli: 250 });
    await c.api.waitPhase(w.id, 'Running');
    expect((await tessera('stop', 'small', '-p', c.defaultProject)).code).toBe(0);
    expect((await tessera('policy', 'delete', `project/${c.defaultProject}`, 'training')).code).toBe(0);
  });

  it('a max-runtime rule stops a running workload and its event names the rule', async () => {
    const file = join(c.root, 'rules.yaml');
    writeFileSync(file, 'maxRuntimeSeconds: 2\n');
    const set = await tessera('rule', 'set', 'cluster', 'training', '-f', file);
    expect(set.code, set.stderr).toBe(0);
    const w = await c.api.submit({
      name: 'capped',
      project: c.defaultProject,
      type: 'training',
      command: SLEEPER,
      resources: { gpuDevices: 1 },
    });
    await c.api.waitPhase(w.id, 'Running');
    await c.api.waitPhase(w.id, 'Stopped', 15_000);
    const stop = (await c.api.events(w.id)).find((e) => e.to === 'Stopped');
    expect(stop?.reason).toBe('MaxRuntimeExceeded');
    expect(stop?.message).toContain('cluster');
    expect((await tessera('rule', 'delete', 'cluster', 'training')).code).toBe(0);
  });
});
