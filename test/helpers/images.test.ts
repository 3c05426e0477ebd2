/**
 * The test images (test/helpers/images.ts): built from this machine's busybox and node, they run
 * under rootful podman, and a second process finds them built rather than building again.
 */
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTestImages, parseLdd, podmanUnavailableReason, type TestImages } from './images.ts';
import { podman, podmanRun, removeTestContainers } from './podman.ts';

const unavailable = podmanUnavailableReason();
if (unavailable !== null) console.warn(unavailable);

const SIM = fileURLToPath(new URL('../../agent/gpu/sim/', import.meta.url));
const IMAGES = fileURLToPath(new URL('./images.ts', import.meta.url));

/** `ldd /usr/bin/node` on Debian 12 (node 20), as captured. */
const LDD_NODE = `	linux-vdso.so.1 (0x00007f33ac0cf000)
	libdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f33ac0b8000)
	libstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f33abe00000)
	libm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f33abd20000)
	libgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f33ac098000)
	libpthread.so.0 => /lib/x86_64-linux-gnu/libpthread.so.0 (0x00007f33ac093000)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f33abb3e000)
	/lib64/ld-linux-x86-64.so.2 (0x00007f33ac0d1000)
`;

describe('parseLdd', () => {
  it('keeps every library path and the loader, and leaves out the vDSO', () => {
    expect(parseLdd(LDD_NODE, 'node')).toEqual([
      '/lib/x86_64-linux-gnu/libdl.so.2',
      '/lib/x86_64-linux-gnu/libstdc++.so.6',
      '/lib/x86_64-linux-gnu/libm.so.6',
      '/lib/x86_64-linux-gnu/libgcc_s.so.1',
      '/lib/x86_64-linux-gnu/libpthread.so.0',
      '/lib/x86_64-linux-gnu/libc.so.6',
      '/lib64/ld-linux-x86-64.so.2',
    ]);
  });

  it('refuses a binary with a library ldd cannot find', () => {
    expect(() => parseLdd('\tlibfoo.so.1 => not found\n', 'x')).toThrow(/libfoo\.so\.1 => not found/);
  });
});

describe.skipIf(unavailable !== null)('test images under podman', () => {
  let images: TestImages;

  // A first build on a loaded 2-core machine: seconds, generously bounded.
  beforeAll(async () => {
    images = await ensureTestImages();
  }, 600_000);
  afterAll(() => removeTestContainers());

  it('the busybox image runs a shell with its applets, as root, with a writable /tmp', async () => {
    const r = await podmanRun(images.busybox, [
      'sh',
      '-c',
      'echo hello from busybox; id -un; echo x > /tmp/f && cat /tmp/f; for a in cat ls env sleep kill setsid head dd yes grep; do which $a; done',
    ]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      'hello from busybox',
      'root',
      'x',
      ...['cat', 'ls', 'env', 'sleep', 'kill', 'setsid', 'head', 'dd', 'yes', 'grep'].map((a) =>
        // env also at /usr/bin/env, for `#!/usr/bin/env node` lines, which PATH finds first.
        a === 'env' ? '/usr/bin/env' : `/bin/${a}`,
      ),
      '',
    ]);
  });

  it('a container exit code comes back through podman run', async () => {
    expect((await podmanRun(images.busybox, ['sh', '-c', 'exit 7'])).exitCode).toBe(7);
  });

  it("the node image runs this machine's node and the sim GPU scripts as they are", async () => {
    const version = await podmanRun(images.node, ['node', '-p', 'process.version']);
    expect(version.stdout.trim()).toBe(process.version);
    // By its `#!/usr/bin/env node` line, importing its sibling state.mjs.
    const help = await podmanRun(images.node, ['/sim/workload.mjs', '--help'], {
      flags: ['--volume', `${SIM}:/sim:ro`],
    });
    expect(help.stderr).toBe('');
    expect(help.stdout).toMatch(/^usage: workload\.mjs/);
  });

  it('both images carry the hash of their recipe', async () => {
    for (const ref of [images.busybox, images.node]) {
      const r = await podman([
        'image',
        'inspect',
        '--format',
        '{{index .Labels "tessera.test.recipe"}}',
        ref,
      ]);
      expect(r.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('another process finds the images built and builds nothing', async () => {
    const script = `const m = await import(${JSON.stringify(IMAGES)}); await m.ensureTestImages(); console.log(m.imageBuildsThisProcess().length);`;
    const r = await execa('npx', ['tsx', '--input-type=module', '-e', script], { timeout: 120_000 });
    expect(r.stderr).not.toMatch(/built/);
    expect(r.stdout.trim()).toBe('0');
  }, 150_000);
});
