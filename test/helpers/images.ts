/**
 * Local OCI images for the container runtime's tests, made with `podman import` from files already
 * on this machine (its network reaches no image registry):
 *
 * - `localhost/tessera-test/busybox:1`: Debian's static busybox with a link for each of its applets
 *   in /bin (sh, cat, ls, id, env, sleep, kill, setsid, dd, yes, grep, ...), /usr/bin/env for `#!`
 *   lines, /tmp, and an /etc/passwd and /etc/group with root and nobody.
 * - `localhost/tessera-test/node:1`: the same plus the node running the tests at /usr/bin/node and
 *   exactly the shared libraries `ldd` lists for it, at the paths it lists; enough for the sim GPU
 *   scripts (plain .mjs, no npm dependencies).
 *
 * Each image carries a label with the hash of its recipe (every path, mode, link and the content of
 * every file copied in), so it is built once per machine and again only when busybox, node or a
 * library changes. Builds happen under a lock file, so parallel vitest workers build once between them.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { podman, podmanOk } from './podman.ts';

export { podmanAvailable, podmanUnavailableReason } from './podman.ts';

/** The images' references. */
export const TEST_IMAGE_REFS = {
  busybox: 'localhost/tessera-test/busybox:1',
  node: 'localhost/tessera-test/node:1',
} as const;

/** References of the test images, built and ready to run. */
export interface TestImages {
  busybox: string;
  node: string;
}

/** One image built by this process: how long each step took and the tarball's size. */
export interface ImageBuild {
  ref: string;
  /** Laying out the root filesystem in a temp dir (copies of busybox, node, libraries). */
  rootfsMs: number;
  tarMs: number;
  importMs: number;
  tarBytes: number;
}

/** Bump when the layout below changes in a way the hashed recipe does not show. */
const RECIPE_VERSION = 1;
const HASH_LABEL = 'tessera.test.recipe';
const BUSYBOX = '/bin/busybox';
/** Shared by every process on the machine, as podman's image store is. */
const LOCK_PATH = join(tmpdir(), 'tessera-test-images.lock');
/** How long a worker waits for another's build: a node image is seconds of work, minutes when loaded. */
const LOCK_WAIT_MS = 10 * 60_000;

/** One entry of an image's root filesystem; `from` is a host file copied in. */
type RootfsEntry =
  | { kind: 'dir'; path: string; mode: number }
  | { kind: 'file'; path: string; from: string; mode: number }
  | { kind: 'link'; path: string; target: string }
  | { kind: 'text'; path: string; content: string; mode: number };

/** How to make one image: its root filesystem and the `podman import --change` settings. */
interface ImageRecipe {
  ref: string;
  entries: RootfsEntry[];
  changes: string[];
}

const builds: ImageBuild[] = [];

/** The builds this process made (none when the images were already there). */
export function imageBuildsThisProcess(): readonly ImageBuild[] {
  return builds;
}

let ensuring: Promise<TestImages> | undefined;

/** Builds the test images unless podman already holds them as their recipes say; their references. */
export function ensureTestImages(): Promise<TestImages> {
  ensuring ??= ensure().catch((e: unknown) => {
    ensuring = undefined;
    throw e;
  });
  return ensuring;
}

async function ensure(): Promise<TestImages> {
  const base = await busyboxRecipe();
  const recipes = [base, await nodeRecipe(base)];
  const hashes = new Map<string, string>();
  for (const r of recipes) hashes.set(r.ref, await recipeHash(r));
  const stale = async (): Promise<ImageRecipe[]> => {
    const out: ImageRecipe[] = [];
    for (const r of recipes) if ((await labelOf(r.ref)) !== hashes.get(r.ref)) out.push(r);
    return out;
  };
  if ((await stale()).length > 0) {
    await withLock(async () => {
      // Another worker may have built them while this one waited.
      for (const r of await stale()) await build(r, hashes.get(r.ref) ?? '');
    });
  }
  return { busybox: TEST_IMAGE_REFS.busybox, node: TEST_IMAGE_REFS.node };
}

/** The recipe hash an image carries; null when podman has no such image. */
async function labelOf(ref: string): Promise<string | null> {
  const r = await podman(['image', 'inspect', '--format', `{{index .Labels "${HASH_LABEL}"}}`, ref]);
  if (r.exitCode !== 0) {
    if (/image not known|no such image/i.test(r.stderr)) return null;
    throw new Error(`podman image inspect ${ref} exited ${r.exitCode}: ${r.stderr.trim()}`);
  }
  return r.stdout.trim();
}

async function busyboxRecipe(): Promise<ImageRecipe> {
  // A dynamic busybox (Debian's `busybox` package) would find no libc in the image.
  const ldd = await execa('ldd', [BUSYBOX], { reject: false });
  if (ldd.exitCode === 0)
    throw new Error(
      `${BUSYBOX} is dynamically linked; the test image needs a static one (apt-get install busybox-static)`,
    );
  const applets = (await execa(BUSYBOX, ['--list'])).stdout
    .split('\n')
    .map((a) => a.trim())
    .filter((a) => /^[\w.[\]-]+$/.test(a) && a !== 'busybox')
    .sort();
  return {
    ref: TEST_IMAGE_REFS.busybox,
    entries: [
      { kind: 'dir', path: 'bin', mode: 0o755 },
      { kind: 'file', path: 'bin/busybox', from: BUSYBOX, mode: 0o755 },
      ...applets.map((a): RootfsEntry => ({ kind: 'link', path: `bin/${a}`, target: 'busybox' })),
      { kind: 'dir', path: 'usr/bin', mode: 0o755 },
      { kind: 'link', path: 'usr/bin/env', target: '/bin/busybox' },
      { kind: 'dir', path: 'tmp', mode: 0o1777 },
      { kind: 'dir', path: 'root', mode: 0o700 },
      { kind: 'dir', path: 'etc', mode: 0o755 },
      {
        kind: 'text',
        path: 'etc/passwd',
        content: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
        mode: 0o644,
      },
      { kind: 'text', path: 'etc/group', content: 'root:x:0:\nnogroup:x:65534:\n', mode: 0o644 },
    ],
    changes: ['ENV=PATH=/usr/local/bin:/usr/bin:/bin', 'CMD=["sh"]'],
  };
}

async function nodeRecipe(base: ImageRecipe): Promise<ImageRecipe> {
  const node = process.execPath;
  const libs = parseLdd((await execa('ldd', [node])).stdout, node);
  const dirs = [...new Set(libs.map((l) => dirname(l).slice(1)))].sort();
  return {
    ref: TEST_IMAGE_REFS.node,
    entries: [
      ...base.entries,
      { kind: 'file', path: 'usr/bin/node', from: node, mode: 0o755 },
      ...dirs.map((d): RootfsEntry => ({ kind: 'dir', path: d, mode: 0o755 })),
      // At the path ldd names (the loader's path is written in node itself), content of its target.
      ...libs.map((l): RootfsEntry => ({ kind: 'file', path: l.slice(1), from: l, mode: 0o755 })),
    ],
    changes: base.changes,
  };
}

/** The absolute library paths in `ldd`'s output, loader included, vDSO left out. */
export function parseLdd(output: string, binary: string): string[] {
  const out: string[] = [];
  for (const line of output.split('\n')) {
    const t = line.trim();
    if (t === '') continue;
    if (/=> not found/.test(t)) throw new Error(`ldd ${binary}: ${t}`);
    const m = /=>\s*(\/\S+)\s+\(0x[0-9a-f]+\)$/.exec(t) ?? /^(\/\S+)\s+\(0x[0-9a-f]+\)$/.exec(t);
    if (m?.[1] !== undefined) out.push(m[1]);
  }
  if (out.length === 0) throw new Error(`ldd ${binary} listed no libraries:\n${output}`);
  return [...new Set(out)];
}

const fileHashes = new Map<string, Promise<string>>();

function fileHash(path: string): Promise<string> {
  let h = fileHashes.get(path);
  if (h === undefined) {
    h = new Promise<string>((resolve, reject) => {
      const hash = createHash('sha256');
      createReadStream(path)
        .on('data', (chunk) => hash.update(chunk))
        .on('error', reject)
        .on('end', () => resolve(hash.digest('hex')));
    });
    fileHashes.set(path, h);
  }
  return h;
}

/** sha256 of everything that makes the image: layout, settings and each copied file's content. */
async function recipeHash(r: ImageRecipe): Promise<string> {
  const entries = await Promise.all(
    r.entries.map(async (e) => (e.kind === 'file' ? { ...e, from: await fileHash(e.from) } : e)),
  );
  const body = JSON.stringify({ version: RECIPE_VERSION, ref: r.ref, entries, changes: r.changes });
  return createHash('sha256').update(body).digest('hex');
}

async function build(r: ImageRecipe, hash: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-image-'));
  try {
    const t0 = performance.now();
    const root = join(dir, 'rootfs');
    await layOut(root, r.entries);
    const t1 = performance.now();
    const tarPath = join(dir, 'rootfs.tar');
    await execa('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tarPath, '.']);
    const t2 = performance.now();
    const before = await imageId(r.ref);
    const changes = [...r.changes, `LABEL=${HASH_LABEL}=${hash}`].flatMap((c) => ['--change', c]);
    await podmanOk(['import', '--quiet', ...changes, tarPath, r.ref]);
    const t3 = performance.now();
    const b: ImageBuild = {
      ref: r.ref,
      rootfsMs: t1 - t0,
      tarMs: t2 - t1,
      importMs: t3 - t2,
      tarBytes: (await stat(tarPath)).size,
    };
    builds.push(b);
    process.stderr.write(
      `test images: built ${b.ref} (${(b.tarBytes / 2 ** 20).toFixed(1)} MiB): rootfs ${b.rootfsMs.toFixed(0)} ms, tar ${b.tarMs.toFixed(0)} ms, podman import ${b.importMs.toFixed(0)} ms\n`,
    );
    if (before !== null && before !== (await imageId(r.ref))) {
      // The tag moved to the new build; the old one is now nameless. A container still using it
      // keeps it, which is fine: say so rather than fail a test over disk space.
      const rmi = await podman(['rmi', before]);
      if (rmi.exitCode !== 0)
        process.stderr.write(`test images: kept the old ${r.ref} (${before}): ${rmi.stderr.trim()}\n`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function imageId(ref: string): Promise<string | null> {
  const r = await podman(['image', 'inspect', '--format', '{{.Id}}', ref]);
  return r.exitCode === 0 ? r.stdout.trim() : null;
}

/** Writes the entries under `root`, in order (a directory before what it holds). */
async function layOut(root: string, entries: readonly RootfsEntry[]): Promise<void> {
  await mkdir(root, { recursive: true });
  for (const e of entries) {
    const at = join(root, e.path);
    if (e.kind === 'dir') {
      await mkdir(at, { recursive: true });
      await chmod(at, e.mode);
      continue;
    }
    await mkdir(dirname(at), { recursive: true });
    if (e.kind === 'link') await symlink(e.target, at);
    else if (e.kind === 'text') await writeFile(at, e.content, { mode: e.mode });
    else await copyFile(e.from, at);
    if (e.kind !== 'link') await chmod(at, e.mode);
  }
}

/**
 * Runs `fn` holding the machine-wide build lock: a file created exclusively, holding the owner's pid.
 * A lock whose owner died (a worker killed mid-build) is taken over; two waiters taking over the same
 * dead lock at once is possible but harmless, as the worst outcome is one image built twice.
 */
async function withLock(fn: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      writeFileSync(LOCK_PATH, String(process.pid), { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = lockOwner();
    // No pid in it: being written this instant, or its writer died between creating and writing.
    const orphan = owner === null && Date.now() - lockMtimeMs() > 10_000;
    if (orphan || (owner !== null && !alive(owner))) {
      rmSync(LOCK_PATH, { force: true });
      continue;
    }
    if (Date.now() > deadline)
      throw new Error(
        `waited ${LOCK_WAIT_MS} ms for ${LOCK_PATH} (held by pid ${owner}); remove it if no build is running`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
  try {
    await fn();
  } finally {
    rmSync(LOCK_PATH, { force: true });
  }
}

/** The pid in the lock file; null while it is being written or just removed. */
function lockOwner(): number | null {
  try {
    const pid = Number(readFileSync(LOCK_PATH, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function lockMtimeMs(): number {
  try {
    return statSync(LOCK_PATH).mtimeMs;
  } catch {
    return Date.now();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
