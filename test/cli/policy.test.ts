/**
 * `tessera policy|rule set|get|delete` and `tessera submit -f ... --dry-run` end to end: a real API
 * (SQLite store, user tokens) listening on a port in this process, driven through `runCli`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type LiveApi, startLiveApi } from './live-api.ts';

let api: LiveApi;
let dir: string;

beforeAll(async () => {
  api = await startLiveApi({ prefix: 'tessera-cli-policy-' });
  ({ dir } = api);
});

afterAll(() => api.close());

const tessera = (...args: string[]) => api.tessera(...args);

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('tessera policy and rule against a live API', () => {
  it('sets, gets and deletes a policy from YAML, and refuses a loosening one', async () => {
    expect((await tessera('project', 'create', 'vision', '--gpu', '4')).code).toBe(0);
    const cluster = file(
      'cluster.yaml',
      'defaults:\n  resources.gpuFraction: 0.25\nrules:\n  resources.gpuFraction: { max: 0.5 }\n  priorityClass: { options: [train, build] }\n',
    );
    const set = await tessera('policy', 'set', 'cluster', 'training', '-f', cluster);
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/resources\.gpuFraction\s+0\.25\s+-\s+0\.5/);

    const got = await tessera('policy', 'get', 'cluster', 'training', '-o', 'json');
    expect(JSON.parse(got.stdout)).toMatchObject({
      scope: 'cluster',
      rules: { priorityClass: { options: ['train', 'build'] } },
    });

    const loose = file('loose.json', JSON.stringify({ rules: { 'resources.gpuFraction': { max: 0.9 } } }));
    const refused = await tessera('policy', 'set', 'project:vision', 'training', '-f', loose);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^TESSERA_E_POLICY_VIOLATION: .*project:vision.*resources\.gpuFraction.*set by cluster/,
    );

    const tight = file('tight.json', JSON.stringify({ rules: { priorityClass: { options: ['train'] } } }));
    expect((await tessera('policy', 'set', 'project:vision', 'training', '-f', tight)).code).toBe(0);
    const eff = await tessera('policy', 'get', 'training', '--effective', '-p', 'vision');
    expect(eff.code).toBe(0);
    expect(eff.stdout).toContain('chain: cluster -> department:default -> project:vision');
    expect(eff.stdout).toMatch(/priorityClass\s+-\s+-\s+-\s+\["train"\]/);

    expect((await tessera('policy', 'delete', 'project:vision', 'training')).stdout).toBe(
      'policy project:vision training deleted\n',
    );
    const missing = await tessera('policy', 'get', 'project:vision', 'training');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('TESSERA_E_NOT_FOUND');
    expect((await tessera('policy', 'get', 'cluster', 'batch')).code).toBe(2);
  });

  it('sets and shows scheduling rules', async () => {
    const rules = file('rules.yaml', 'maxRuntimeSeconds: 3600\nnodeTypes: [dgx]\n');
    expect((await tessera('rule', 'set', 'cluster', 'workspace', '-f', rules)).code).toBe(0);
    const eff = await tessera('rule', 'get', 'project:vision', 'workspace', '--effective');
    expect(eff.stdout).toMatch(/maxRuntimeSeconds\s+3600\s+cluster/);
    expect(eff.stdout).toMatch(/nodeTypes\s+\["dgx"\]\s+cluster/);
    const list = await tessera('rule', 'list', '-o', 'yaml');
    expect(parse(list.stdout)).toMatchObject([
      { scope: 'cluster', type: 'workspace', maxRuntimeSeconds: 3600 },
    ]);
  });

  it('submits from a file with flags overriding it, and --dry-run shows the spec after policies', async () => {
    const spec = file(
      'resnet.yaml',
      'name: resnet\nproject: vision\ntype: training\ncommand: [python, train.py]\nresources: { gpuFraction: 0.5, memory: 8GiB }\n',
    );
    const dry = await tessera('submit', '-f', spec, '--dry-run', '--gpu-fraction', '0.25');
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    expect(parse(dry.stdout)).toMatchObject({
      name: 'resnet',
      priorityClass: 'train',
      resources: { gpu: { kind: 'fraction', milli: 250 }, memoryMiB: 8192 },
    });
    expect(JSON.parse((await tessera('list', '-o', 'json')).stdout)).toEqual([]);

    // --gpu replaces the file's gpuFraction rather than colliding with it.
    const whole = await tessera('submit', '-f', spec, '--gpu', '1', '--dry-run', '-o', 'json');
    expect(whole.code).toBe(0);
    expect(JSON.parse(whole.stdout)).toMatchObject({ resources: { gpu: { kind: 'devices', count: 1 } } });

    const big = await tessera('submit', '-f', spec, '--gpu-fraction', '0.75');
    expect(big.code).toBe(1);
    expect(big.stderr).toContain(
      'resources.gpuFraction: "0.75" is above the maximum (rule max 0.5 set by policy cluster)',
    );

    const ok = await tessera('submit', '-f', spec, '-o', 'json');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ name: 'resnet', phase: 'Pending' });

    const bare = await tessera('submit', '--gpu', '1');
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('-f');
  });

  it('shows container rules stored and effective, with the scope that set each', async () => {
    const yaml = file(
      'container.yaml',
      'defaults: { runAsUser: 1000 }\ncontainer:\n  requireImage: true\n  allowedHostPaths: [/datasets/]\n',
    );
    const set = await tessera('policy', 'set', 'cluster', 'inference', '-f', yaml);
    expect(set.stderr).toBe('');
    expect(set.stdout).toMatch(
      /CONTAINER RULE\s+VALUE\s+SCOPE\nrequireImage\s+true\s+-\nallowedHostPaths\s+\["\/datasets"\]\s+-/,
    );
    const eff = await tessera('policy', 'get', 'inference', '--effective', '-p', 'vision');
    expect(eff.stdout).toMatch(/requireImage\s+true\s+cluster\n/);
    expect(eff.stdout).toMatch(/allowedHostPaths\s+\["\/datasets"\]\s+cluster\n/);
    expect(eff.stdout).toMatch(/runAsUser\s+1000/);
  });
});
