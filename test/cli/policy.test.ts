/**
 * `tessera policy|rule set|get|delete` and `tessera submit -f ... --dry-run` end to end: a real API
 * (SQLite store, user tokens) listening on a port in this process, driven through `runCli`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { buildApi } from '../../allocator/api/index.ts';
import { createUserToken, memoryTokenStore } from '../../allocator/link/tokens.ts';
import { ensureAccess } from '../../allocator/store/access.ts';
import { type Db, openDb } from '../../allocator/store/db.ts';
import { bufferIo } from '../../cli/io.ts';
import { runCli } from '../../cli/program.ts';

let dir: string;
let db: Db;
let app: FastifyInstance;
let url: string;
let admin: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-cli-policy-'));
  vi.stubEnv('TESSERA_CONFIG', join(dir, 'no-config.json'));
  vi.stubEnv('TESSERA_DATA', join(dir, 'no-data'));
  vi.stubEnv('TESSERA_URL', '');
  vi.stubEnv('TESSERA_TOKEN', '');
  db = openDb({ dataDir: dir });
  const tokens = memoryTokenStore();
  admin = createUserToken(tokens, 'admin');
  // The RBAC layer (issue 5) asks for an access rule: the admin role on the cluster.
  ensureAccess(db, 'admin', 'admin', 'cluster', 0);
  app = buildApi({ db, tokens });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await app.close();
  db.close();
  vi.unstubAllEnvs();
  rmSync(dir, { recursive: true, force: true });
});

async function tessera(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = bufferIo();
  const dash = args.indexOf('--');
  const flags = ['--url', url, '--token', admin];
  const argv = dash === -1 ? [...args, ...flags] : [...args.slice(0, dash), ...flags, ...args.slice(dash)];
  const code = await runCli(argv, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

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
});
