/**
 * The client commands end to end: a real API (SQLite store, user tokens) listening on a port in
 * this process, driven through `runCli` exactly as a user types the commands.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { authenticate, type TokenStore } from '../../allocator/identity/index.ts';
import { bufferIo } from '../../cli/io.ts';
import { runCli } from '../../cli/program.ts';
import { type LiveApi, startLiveApi } from './live-api.ts';

let api: LiveApi;
let tokens: TokenStore;
let url: string;

beforeAll(async () => {
  api = await startLiveApi({ prefix: 'tessera-cli-' });
  ({ tokens, url } = api);
});

afterAll(() => api.close());

/** Runs `tessera ARGS --url URL --token ADMIN` (flags go before any `--`). */
const tessera = (...args: string[]) => api.tessera(...args);

describe('tessera client commands against a live API', () => {
  it('creates a project (and the default department) and lists it', async () => {
    const created = await tessera('project', 'create', 'vision', '--gpu', '4', '--limit', '6');
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^NAME\s+DEPARTMENT\s+NODE POOL\s+GPU QUOTA/);
    expect(created.stdout).toMatch(/vision\s+default\s+default\s+4\s+1\s+6/);

    const list = await tessera('project', 'list', '-o', 'json');
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toMatchObject([
      { name: 'vision', department: 'default', quotas: [{ nodePool: 'default', gpu: 4, limit: 6 }] },
    ]);
    const again = await tessera('project', 'create', 'vision');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('TESSERA_E_CONFLICT');
  });

  it('submits a workload and prints it', async () => {
    const r = await tessera(
      'submit',
      'training',
      'resnet',
      '-p',
      'vision',
      '--gpu-fraction',
      '0.5',
      '--gpu-memory-limit',
      '40GiB',
      '--cpu',
      '2',
      '--memory',
      '8GiB',
      '-e',
      'SEED=1',
      '--',
      'python',
      'train.py',
      '--lr',
      '0.1',
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^ID\s+NAME\s+PROJECT\s+TYPE\s+PHASE\n\S+\s+resnet\s+vision\s+training\s+Pending\n$/,
    );
  });

  it("shows the server's error code and field for a bad spec (exit 1)", async () => {
    const fraction = await tessera(
      'submit',
      'training',
      'big',
      '-p',
      'vision',
      '--gpu-fraction',
      '2',
      '--',
      'x',
    );
    expect(fraction.code).toBe(1);
    expect(fraction.stderr).toMatch(
      /^TESSERA_E_INVALID_SPEC: resources\.gpuFraction: must be strictly between 0 and 1/,
    );
    const cpu = await tessera('submit', 'training', 'cpu', '-p', 'vision', '--cpu', 'lots', '--', 'x');
    expect(cpu.code).toBe(1);
    expect(cpu.stderr).toContain('TESSERA_E_INVALID_QUANTITY');
    expect(cpu.stderr).toContain('resources.cpu');
    const name = await tessera('submit', 'training', 'Bad_Name', '-p', 'vision', '--', 'x');
    expect(name.stderr).toMatch(/^TESSERA_E_INVALID_SPEC: name:/);
  });

  it('refuses bad flags with a usage error before calling the API (exit 2)', async () => {
    const both = await tessera(
      'submit',
      'training',
      'x',
      '-p',
      'vision',
      '--gpu',
      '1',
      '--gpu-fraction',
      '0.5',
      '--',
      'x',
    );
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('cannot be used with');
    const type = await tessera('submit', 'trainning', 'x', '-p', 'vision', '--', 'x');
    expect(type.code).toBe(2);
    const noCommand = await tessera('submit', 'training', 'x', '-p', 'vision');
    expect(noCommand.code).toBe(2);
    expect(noCommand.stderr).toContain('give the command to run after --');
    // Without --node, `token create` makes an API token; a join token takes no user flags.
    const mixed = await tessera('token', 'create', '--node', '--user', 'bob');
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toContain('--user');
  });

  it('lists workloads with pods, GPUs and age, filtered and as JSON or YAML', async () => {
    const table = await tessera('list');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^NAME\s+PROJECT\s+TYPE\s+PHASE\s+PODS\s+RESTARTS\s+GPUS\s+AGE\n/);
    expect(table.stdout).toMatch(
      /resnet\s+vision\s+training\s+Pending\s+0\/1\s+0\s+0\.5 \(limit 40GiB\)\s+\d+s/,
    );
    expect(JSON.parse((await tessera('list', '-p', 'vision', '-o', 'json')).stdout)).toMatchObject([
      { name: 'resnet', env: { SEED: '1' }, command: ['python', 'train.py', '--lr', '0.1'] },
    ]);
    expect(parse((await tessera('list', '--phase', 'Running', '-o', 'yaml')).stdout)).toEqual([]);
    expect((await tessera('list', '--phase', 'Running')).stdout).toBe('no workloads\n');
    const badPhase = await tessera('list', '--phase', 'Runing');
    expect(badPhase.code).toBe(1);
    expect(badPhase.stderr).toContain('TESSERA_E_INVALID_SPEC');
  });

  it('describes a workload: spec summary, phase, pods and events', async () => {
    const r = await tessera('describe', 'resnet', '-p', 'vision');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Phase:\s+Pending/);
    expect(r.stdout).toMatch(/GPU per pod:\s+0\.5 \(limit 40GiB\)/);
    expect(r.stdout).toMatch(/Command:\s+python train\.py --lr 0\.1/);
    expect(r.stdout).toContain('Pods:\nnone yet');
    expect(r.stdout).toMatch(/Events:\nTIME\s+FROM\s+TO\s+REASON\s+MESSAGE\n/);
    expect(r.stdout).toMatch(/Creating\s+Pending/);
    const json = JSON.parse((await tessera('describe', 'resnet', '-o', 'json')).stdout) as {
      events: unknown[];
    };
    expect(json).toMatchObject({ name: 'resnet', phase: 'Pending' });
    expect(json.events.length).toBeGreaterThan(0);
    const missing = await tessera('describe', 'nope', '-p', 'vision');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^TESSERA_E_NOT_FOUND: no workload named nope in project vision/);
  });

  it('stops, runs again and deletes a workload', async () => {
    const stop = await tessera('stop', 'resnet', '-p', 'vision');
    expect(stop.code).toBe(0);
    expect(stop.stdout).toBe('workload resnet (project vision) stopped: phase Stopped\n');
    const stopAgain = await tessera('stop', 'resnet', '-p', 'vision');
    expect(stopAgain.code).toBe(1);
    expect(stopAgain.stderr).toContain('TESSERA_E_ILLEGAL_TRANSITION');
    const run = await tessera('run', 'resnet', '-p', 'vision', '-o', 'json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ name: 'resnet', phase: 'Pending' });
    const id = (JSON.parse(run.stdout) as { id: string }).id;
    const del = await tessera('delete', id);
    expect(del.code).toBe(0);
    expect(del.stdout).toBe('workload resnet (project vision) deleted\n');
    expect((await tessera('list')).stdout).toBe('no workloads\n');
  });

  it('creates a join token an agent can use, and lists tokens without secrets', async () => {
    const r = await tessera('token', 'create', '--node');
    expect(r.code).toBe(0);
    const token = r.stdout.trim();
    expect(authenticate(tokens, token)).toEqual({ kind: 'join' });
    expect(r.stderr).toContain(`TESSERA_TOKEN=${token} tessera agent --allocator ${url}`);
    const list = await tessera('token', 'list');
    expect(list.stdout).toMatch(/ID\s+KIND\s+SUBJECT/);
    expect(list.stdout).toMatch(/\s+join\s+-/);
    expect(list.stdout).not.toContain(token.split('.')[2]);
  });

  it('says the token is wrong (exit 1) and names the URL of an allocator that is not there', async () => {
    const io = bufferIo();
    expect(await runCli(['list', '--url', url, '--token', 'tu.nope.nope'], io)).toBe(1);
    expect(io.stderr).toMatch(/^TESSERA_E_UNAUTHENTICATED/);
    const none = bufferIo();
    expect(await runCli(['list'], none)).toBe(1);
    expect(none.stderr).toContain('no allocator: pass --url, set TESSERA_URL, or run tessera up');
  });
});
