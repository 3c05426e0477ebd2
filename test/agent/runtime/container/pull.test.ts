import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PodSpec } from '../../../../agent/runner/types.ts';
import { normaliseOptions } from '../../../../agent/runtime/container/options.ts';
import type { Podman, PodmanRun } from '../../../../agent/runtime/container/podman.ts';
import { ensureImage } from '../../../../agent/runtime/container/pull.ts';
import { busyboxSpec, quietLogger } from './helpers.ts';

const REFUSED =
  'Error: initializing source docker://r:5000/a:1: pinging container registry r:5000: Get "http://r:5000/v2/": dial tcp r:5000: connect: connection refused';
const UNKNOWN =
  'Error: initializing source docker://r:5000/a:1: reading manifest 1 in r:5000/a: manifest unknown: manifest unknown';

/** A fake podman answering `image exists` and `pull` from scripts, recording each call and the authfile it saw. */
function fake(exists: boolean, pulls: PodmanRun[]) {
  const calls: string[][] = [];
  const authSeen: { mode: number; text: string }[] = [];
  const podman: Podman = async (args) => {
    calls.push([...args]);
    if (args[0] === 'image') return { exitCode: exists ? 0 : 1, stdout: '', stderr: '', failure: null };
    const i = args.indexOf('--authfile');
    const f = i >= 0 ? args[i + 1] : undefined;
    if (f !== undefined) authSeen.push({ mode: statSync(f).mode & 0o777, text: readFileSync(f, 'utf8') });
    return pulls.shift() ?? { exitCode: 0, stdout: '', stderr: '', failure: null };
  };
  return { podman, calls, authSeen };
}

const failed = (stderr: string): PodmanRun => ({ exitCode: 125, stdout: '', stderr, failure: null });

function setup(over: Partial<PodSpec>, retries = 2) {
  const cfg = normaliseOptions({
    nodeName: 'n',
    logger: quietLogger,
    initPath: null,
    ulimits: [],
    insecureRegistries: ['r:5000'],
    pullRetry: { retries, baseBackoffMs: 100, maxBackoffMs: 150 },
  });
  const events: string[] = [];
  const sleeps: number[] = [];
  const podDir = mkdtempSync(join(tmpdir(), 'tessera-ctr-pull-'));
  dirs.push(podDir);
  const req = {
    spec: busyboxSpec(['true'], { image: 'r:5000/a:1', ...over }),
    podDir,
    onEvent: (k: string, m: string) => events.push(`${k}: ${m}`),
    signal: new AbortController().signal,
  };
  return { cfg, req, events, sleeps, podDir };
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('ensureImage', () => {
  it('IfNotPresent with the image present does not pull', async () => {
    const s = setup({});
    const f = fake(true, []);
    expect((await ensureImage(s.cfg, f.podman, 'r:5000/a:1', s.req)).ok).toBe(true);
    expect(f.calls).toEqual([['image', 'exists', 'r:5000/a:1']]);
    expect(s.events).toEqual([]);
  });

  it('Always pulls, over plain HTTP for an insecure registry, and reports the time', async () => {
    const s = setup({ imagePullPolicy: 'Always' });
    const f = fake(true, []);
    expect((await ensureImage(s.cfg, f.podman, 'r:5000/a:1', s.req)).ok).toBe(true);
    expect(f.calls).toEqual([['pull', '--quiet', '--tls-verify=false', 'r:5000/a:1']]);
    expect(s.events[0]).toBe('image-pulling: Pulling image r:5000/a:1');
    expect(s.events[1]).toMatch(/^image-pulled: Pulled r:5000\/a:1 in \d+(\.\d)? s$/);
  });

  it('Never with the image absent fails without pulling', async () => {
    const s = setup({ imagePullPolicy: 'Never' });
    const f = fake(false, []);
    const r = await ensureImage(s.cfg, f.podman, 'r:5000/a:1', s.req);
    expect(!r.ok && r.error.message).toBe(
      'ImagePullFailed: image r:5000/a:1 is not present on the node and imagePullPolicy is Never',
    );
    expect(f.calls).toHaveLength(1);
  });

  it('retries an unreachable registry with backoff, then fails after retries + 1 attempts', async () => {
    const s = setup({}, 2);
    const f = fake(false, [failed(REFUSED), failed(REFUSED), failed(REFUSED)]);
    const r = await ensureImage(s.cfg, f.podman, 'r:5000/a:1', s.req, async (ms) => void s.sleeps.push(ms));
    expect(!r.ok && r.error.message).toBe(
      'ImagePullFailed: pinging container registry r:5000: Get "http://r:5000/v2/": dial tcp r:5000: connect: connection refused (after 3 attempts)',
    );
    expect(s.sleeps).toEqual([100, 150]);
    expect(s.events.filter((e) => e.startsWith('image-pull-retry'))).toHaveLength(2);
  });

  it('does not retry a missing image', async () => {
    const s = setup({});
    const f = fake(false, [failed(UNKNOWN)]);
    const r = await ensureImage(s.cfg, f.podman, 'r:5000/a:1', s.req, async (ms) => void s.sleeps.push(ms));
    expect(!r.ok && r.error.message).toBe(
      'ImagePullFailed: reading manifest 1 in r:5000/a: manifest unknown: manifest unknown',
    );
    expect(s.sleeps).toEqual([]);
  });

  it('passes the login in a 0600 authfile that is gone afterwards, never on argv', async () => {
    const s = setup({ pullCredential: { server: 'r:5000', username: 'bob', password: 's3cret' } });
    const f = fake(false, [failed(REFUSED)]);
    await ensureImage(s.cfg, f.podman, 'r:5000/a:1', s.req, async () => {});
    expect(f.authSeen).toHaveLength(2);
    expect(f.authSeen[0]?.mode).toBe(0o600);
    expect(f.authSeen[0]?.text).toContain(Buffer.from('bob:s3cret').toString('base64'));
    expect(f.calls.flat().join(' ')).not.toMatch(/s3cret|bob/);
    const authPath = f.calls[1]?.[f.calls[1].indexOf('--authfile') + 1] ?? '';
    expect(authPath.startsWith(s.podDir)).toBe(true);
    expect(existsSync(authPath)).toBe(false);
  });
});
