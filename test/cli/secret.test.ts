/**
 * `tessera secret` and image workloads end to end: a real API (SQLite store, user tokens) on a port
 * in this process, driven through `runCli` with the password on stdin.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { passwordFromStdin } from '../../cli/commands/secret.ts';
import { type LiveApi, startLiveApi } from './live-api.ts';

let api: LiveApi;
const PASSWORD = 'nvapi-cli-secret-42';

beforeAll(async () => {
  api = await startLiveApi({ prefix: 'tessera-cli-secret-' });
  expect((await api.tessera('project', 'create', 'vision', '--gpu', '4')).code).toBe(0);
});

afterAll(() => api.close());

const tessera = (...args: string[]) => api.tessera(...args);
const create = [
  'secret',
  'create',
  'registry',
  'ngc',
  '-p',
  'vision',
  '--server',
  'nvcr.io',
  '--username',
  '$oauthtoken',
];

describe('tessera secret', () => {
  it('strips the line end echo adds and refuses an empty password', () => {
    expect(passwordFromStdin(`${PASSWORD}\n`)).toBe(PASSWORD);
    expect(passwordFromStdin(`${PASSWORD}\r\n`)).toBe(PASSWORD);
    expect(passwordFromStdin(' keep spaces ')).toBe(' keep spaces ');
    expect(() => passwordFromStdin('\n')).toThrow(/stdin held no password/);
  });

  it('refuses to create without --password-stdin, or with nothing on stdin (exit 2)', async () => {
    const noFlag = await tessera(...create);
    expect(noFlag.code).toBe(2);
    expect(noFlag.stderr).toMatch(/--password-stdin/);
    const empty = await api.withStdin('', ...create, '--password-stdin');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/stdin held no password/);
    expect((await tessera('secret', 'list', '-p', 'vision')).stdout).toBe('no secrets in project vision\n');
  });

  it('creates from stdin, lists without the password, and refuses a second create', async () => {
    const made = await api.withStdin(`${PASSWORD}\n`, ...create, '--password-stdin');
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    expect(made.stdout).toBe(
      'registry secret ngc created in project vision ($oauthtoken at nvcr.io); use it with --pull-secret ngc\n',
    );
    const list = await tessera('secret', 'list', '-p', 'vision');
    expect(list.stdout).toMatch(
      /^PROJECT\s+NAME\s+TYPE\s+SERVER\s+USERNAME\s+AGE\nvision\s+ngc\s+registry\s+nvcr\.io\s+\$oauthtoken\s+/,
    );
    // -A: every project the caller reads; -p or -A is needed.
    expect((await tessera('secret', 'list', '-A')).stdout).toMatch(/\nvision\s+ngc\s+registry/);
    expect((await tessera('secret', 'list')).stderr).toContain('-p PROJECT, or -A');
    const json = await tessera('secret', 'list', '-p', 'vision', '-o', 'json');
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ name: 'ngc', server: 'nvcr.io' })]);
    for (const r of [made, list, json]) expect(r.stdout).not.toContain(PASSWORD);
    const again = await api.withStdin(PASSWORD, ...create, '--password-stdin');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^TESSERA_E_CONFLICT: .*replace it with --replace/);
    const replaced = await api.withStdin('rotated', ...create, '--password-stdin', '--replace');
    expect(replaced.code).toBe(0);
    expect(replaced.stdout).toMatch(/registry secret ngc saved/);
  });

  it('submits an image workload with the secret and a mount, and describe shows them but no password', async () => {
    const policy = `${api.dir}/policy.json`;
    writeFileSync(policy, JSON.stringify({ container: { allowedHostPaths: ['/datasets'] } }));
    expect((await tessera('policy', 'set', 'cluster', 'training', '-f', policy)).code).toBe(0);
    const submit = await tessera(
      'submit',
      'training',
      'pt',
      '-p',
      'vision',
      '-i',
      'nvcr.io/nvidia/pytorch:24.05-py3',
      '--pull-secret',
      'ngc',
      '--pull-policy',
      'Always',
      '--working-dir',
      '/workspace',
      '--run-as-user',
      '1000',
      '--run-as-group',
      '100',
      '--mount',
      '/datasets/imagenet:/data',
      '--',
      'python',
      'train.py',
    );
    expect(submit.stderr).toBe('');
    expect(submit.code).toBe(0);
    const d = await tessera('describe', 'pt', '-p', 'vision');
    expect(d.stdout).toMatch(/Image:\s+nvcr\.io\/nvidia\/pytorch:24\.05-py3 \(pull Always\)\n/);
    expect(d.stdout).toMatch(/Pull secret:\s+ngc\n/);
    expect(d.stdout).toMatch(/Working dir:\s+\/workspace\n/);
    expect(d.stdout).toMatch(/Runs as:\s+user 1000, group 100\n/);
    expect(d.stdout).toMatch(/Mounts:\s+\/datasets\/imagenet -> \/data \(ro\)\n/);
    expect(d.stdout).not.toContain('rotated');
    expect((await tessera('describe', 'pt', '-p', 'vision', '-o', 'json')).stdout).not.toContain('rotated');
  });

  it('says which flag to fix for a mount no policy allows, and a secret the project lacks', async () => {
    const etc = await tessera('submit', 'training', 'bad', '-p', 'vision', '--mount', '/etc', '--', 'x');
    expect(etc.code).toBe(1);
    expect(etc.stderr).toMatch(
      /^TESSERA_E_POLICY_VIOLATION: mounts\.0\.hostPath: "\/etc" is not under an allowed host path/,
    );
    const missing = await tessera(
      'submit',
      'training',
      'bad',
      '-p',
      'vision',
      '-i',
      'nvcr.io/x',
      '--pull-secret',
      'nope',
      '--',
      'x',
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /no registry secret nope in project vision; create it with tessera secret create registry nope/,
    );
  });

  it('refuses to delete a secret a workload names, then deletes it once the workload is gone', async () => {
    const refused = await tessera('secret', 'delete', 'registry', 'ngc', '-p', 'vision');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^TESSERA_E_CONFLICT: registry secret ngc is named by workloads of project vision .*: pt/,
    );
    expect((await tessera('delete', 'pt', '-p', 'vision')).code).toBe(0);
    const deleted = await tessera('secret', 'delete', 'registry', 'ngc', '-p', 'vision');
    expect(deleted.stderr).toBe('');
    expect(deleted.stdout).toBe('registry secret ngc deleted from project vision\n');
    expect((await tessera('secret', 'delete', 'oci', 'ngc', '-p', 'vision')).code).toBe(2);
  });
});
