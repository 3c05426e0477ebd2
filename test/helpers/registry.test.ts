/**
 * The test registry (test/helpers/registry.ts) and what podman says when a pull fails. The runtime
 * classifies a failed pull by podman's message, so these tests pin the texts it relies on: a wrong
 * password, an image the registry lacks, a registry nobody answers at.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTestImages, podmanUnavailableReason, type TestImages } from './images.ts';
import { podman, podmanRun, removeTestContainers } from './podman.ts';
import { freePort, startRegistry, type TestRegistry } from './registry.ts';

const unavailable = podmanUnavailableReason();
if (unavailable !== null) console.warn(unavailable);

/** podman's last `Error: ...` line: before it, a pull prints progress and retry warnings. */
const lastError = (stderr: string): string =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('Error: '))
    .at(-1) ?? `(no Error: line in ${JSON.stringify(stderr)})`;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe.skipIf(unavailable !== null)('test registry', () => {
  let images: TestImages;
  let reg: TestRegistry;
  let remote: string;
  /** References pulled into podman's store; untagged again afterwards. */
  const pulled: string[] = [];

  beforeAll(async () => {
    [images, reg] = await Promise.all([ensureTestImages(), startRegistry()]);
    remote = await reg.push(images.busybox, 'tessera/busybox:1');
  }, 600_000);

  afterAll(async () => {
    await removeTestContainers();
    // The pulled name is a second tag on the busybox image: removing it only untags.
    for (const ref of pulled) await podman(['rmi', '--ignore', ref]);
    await reg?.stop();
  });

  const pull = (ref: string, creds: string) => podman(['pull', '--tls-verify=false', '--creds', creds, ref]);

  it('listens on 127.0.0.1 at the port it says and asks for credentials', async () => {
    expect(reg.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect((await fetch(`http://${reg.address}/v2/`)).status).toBe(401);
    const basic = Buffer.from(`${reg.username}:${reg.password}`).toString('base64');
    const ok = await fetch(`http://${reg.address}/v2/`, { headers: { authorization: `Basic ${basic}` } });
    expect(ok.status).toBe(200);
  });

  it('an image pushed to it pulls back with the credentials and runs', async () => {
    expect(remote).toBe(`${reg.address}/tessera/busybox:1`);
    pulled.push(remote);
    const r = await pull(remote, `${reg.username}:${reg.password}`);
    expect(r.exitCode, r.stderr).toBe(0);
    const run = await podmanRun(remote, ['echo', 'pulled and ran'], { flags: ['--pull=never'] });
    expect(run.stdout).toBe('pulled and ran\n');
  });

  it('a wrong password fails the pull with "unauthorized: authentication required"', async () => {
    const r = await pull(remote, `${reg.username}:not-${reg.password}`);
    expect(r.exitCode).toBe(125);
    expect(lastError(r.stderr)).toBe(
      `Error: initializing source docker://${remote}: reading manifest 1 in ${reg.address}/tessera/busybox: unauthorized: authentication required`,
    );
  });

  it('an image the registry lacks fails the pull with "manifest unknown"', async () => {
    const creds = `${reg.username}:${reg.password}`;
    const noTag = await pull(`${reg.address}/tessera/busybox:2`, creds);
    expect(noTag.exitCode).toBe(125);
    expect(lastError(noTag.stderr)).toBe(
      `Error: initializing source docker://${reg.address}/tessera/busybox:2: reading manifest 2 in ${reg.address}/tessera/busybox: manifest unknown: manifest unknown`,
    );
    const noRepo = await pull(`${reg.address}/tessera/nothing:1`, creds);
    expect(lastError(noRepo.stderr)).toMatch(/: manifest unknown: manifest unknown$/);
  });

  it('a registry nobody answers at fails the pull with "connection refused", after three retries', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const r = await pull(`${closed}/tessera/busybox:1`, `${reg.username}:${reg.password}`);
    expect(r.exitCode).toBe(125);
    expect(lastError(r.stderr)).toBe(
      `Error: initializing source docker://${closed}/tessera/busybox:1: pinging container registry ${closed}: Get "http://${closed}/v2/": dial tcp ${closed}: connect: connection refused`,
    );
    // podman 4.3 retries a network failure 3 times, 1 s apart, warning each time.
    expect(r.stderr).toContain('Failed, retrying in 1s ... (3/3).');
  }, 60_000);

  it('stop() ends the registry process and removes its storage, and a second stop() is harmless', async () => {
    const other = await startRegistry({ username: 'u', password: 'p' });
    expect(alive(other.pid)).toBe(true);
    await other.stop();
    await other.stop();
    expect(alive(other.pid)).toBe(false);
    expect(existsSync(other.dir)).toBe(false);
    await expect(fetch(`http://${other.address}/v2/`)).rejects.toThrow();
  });
});
