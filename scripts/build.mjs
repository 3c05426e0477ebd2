#!/usr/bin/env node
/**
 * `npm run build` (after `npm run gen:wire`): compiles the product's TypeScript to JavaScript and
 * lays out the files it reads by path beside it, so that OUT mirrors the source tree (OUT/cli/main.js
 * is the entry, OUT/web/ the console) and every `new URL('./x', import.meta.url)` in the sources
 * finds the same file in the build. Plain JavaScript with no dependency but the TypeScript compiler,
 * so it runs where tsx is not installed (the image's build stage).
 *
 *   node scripts/build.mjs [--out DIR]     (default: dist)
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The folders tsconfig.build.json compiles; their plain-JS and data files are copied as they are. */
const SOURCE_DIRS = ['common', 'allocator', 'agent', 'cli', 'sim'];
/** What stays behind: what tsc compiles, type declarations, docs, and the wire's generator inputs. */
const NOT_COPIED = /(\.ts|\.d\.mts|\.md|\.proto|buf\.gen\.yaml)$/;
/** The development-only entry of the scheduler's thread (it loads tsx; cycle-worker.ts skips it when compiled). */
const DEV_ONLY = new Set(['allocator/service/ts-thread.mjs']);

/** The value of `--out`, or the default. */
function outDir(argv) {
  const at = argv.indexOf('--out');
  if (at < 0) return join(ROOT, 'dist');
  const v = argv[at + 1];
  if (v === undefined || v.startsWith('--')) throw new Error('--out needs a directory, e.g. --out dist');
  return resolve(v);
}

/** Every file under `dir` (relative to ROOT) that the compiled program reads by path. */
function assets(dir) {
  const out = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...assets(rel));
    else if (!NOT_COPIED.test(entry.name) && !DEV_ONLY.has(rel)) out.push(rel);
  }
  return out;
}

/** Builds into `out`, replacing whatever was there (a file deleted from the sources must not linger). */
export function build(out) {
  if (!existsSync(join(ROOT, 'common', 'proto', 'gen'))) {
    throw new Error('common/proto/gen is missing: run `npm run gen:wire` first (`npm run build` does)');
  }
  rmSync(out, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', out], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  // File copies keep their mode: the sim's nvidia-smi and cuda-checkpoint wrappers are executables.
  for (const rel of SOURCE_DIRS.flatMap(assets)) cpSync(join(ROOT, rel), join(out, rel));
  // The web console: plain files the allocator serves (allocator/api/console-route.ts), no build step.
  cpSync(join(ROOT, 'web'), join(out, 'web'), {
    recursive: true,
    filter: (src) => statSync(src).isDirectory() || !src.endsWith('tsconfig.json'),
  });
  const entry = join(out, 'cli', 'main.js');
  if (!existsSync(entry)) throw new Error(`the build has no entry at ${relative(ROOT, entry)}`);
  return entry;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const entry = build(outDir(process.argv.slice(2)));
    process.stdout.write(`built ${relative(process.cwd(), entry) || entry}\n`);
  } catch (e) {
    process.stderr.write(`build failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
}
