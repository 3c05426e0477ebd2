/**
 * The container image (Dockerfile, .dockerignore): one image for the allocator and the agent,
 * consistent with what helm/tessera asks of it (the `tessera` command, the allocator's user and state
 * path, the ports, the image name and tag). The Dockerfile is read as text here; where a docker engine
 * answers (`docker info` exits 0) the image is also built and run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = join(import.meta.dirname, '..', '..');
const CHART = join(ROOT, 'helm', 'tessera');
const read = (rel: string) => readFileSync(join(ROOT, rel), 'utf8');

/** One Dockerfile instruction: its keyword (upper case), its arguments, the stage it belongs to. */
interface Instruction {
  keyword: string;
  args: string;
  stage: number;
}

/** The instructions of a Dockerfile: comments dropped, `\` continuations joined. */
function instructions(text: string): Instruction[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && pending === '')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    logical.push(`${pending}${line}`.trim());
    pending = '';
  }
  if (pending !== '') logical.push(pending.trim());
  let stage = -1;
  return logical
    .filter((l) => l !== '')
    .map((l) => {
      const m = /^(\S+)\s*(.*)$/.exec(l);
      const keyword = (m?.[1] ?? '').toUpperCase();
      if (keyword === 'FROM') stage++;
      return { keyword, args: m?.[2] ?? '', stage };
    });
}

/** An exec-form argument list (`["a", "b"]`) as an array. */
function execForm(args: string): string[] {
  const v: unknown = JSON.parse(args);
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new Error(`not exec form: ${args}`);
  return v;
}

const dockerfile = instructions(read('Dockerfile'));
const stages = dockerfile.filter((i) => i.keyword === 'FROM');
const last = stages.length - 1;
const inStage = (stage: number, keyword: string) =>
  dockerfile.filter((i) => i.stage === stage && i.keyword === keyword);
const runtime = (keyword: string) => inStage(last, keyword);
const pkg = JSON.parse(read('package.json')) as { version: string; license: string };
const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8'));
const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string };
const allocatorTemplate = readFileSync(join(CHART, 'templates', 'allocator-deployment.yaml'), 'utf8');
const agentTemplate = readFileSync(join(CHART, 'templates', 'agent-daemonset.yaml'), 'utf8');

/** The `data` volume's mountPath in a pod template. */
function dataMountPath(template: string): string {
  const m = /- name: data\s*\n\s*mountPath: (\S+)/.exec(template);
  if (m?.[1] === undefined) throw new Error('no volumeMount named data in the template');
  return m[1];
}

/** ENV key=value pairs of the runtime stage. */
function runtimeEnv(): Map<string, string> {
  const env = new Map<string, string>();
  for (const i of runtime('ENV'))
    for (const m of i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g))
      env.set(m[1] ?? '', (m[2] ?? '').replace(/^"|"$/g, ''));
  return env;
}

/** LABEL key="value" pairs of the runtime stage. */
function labels(): Map<string, string> {
  const out = new Map<string, string>();
  for (const i of runtime('LABEL'))
    for (const m of i.args.matchAll(/([\w.-]+)=("[^"]*"|\S+)/g))
      out.set(m[1] ?? '', (m[2] ?? '').replace(/^"|"$/g, ''));
  return out;
}

/** Top-level directories of every file (or directory) reachable from the CLI's entry through relative imports and `new URL('./x', import.meta.url)`. */
function sourceDirs(): Set<string> {
  const seen = new Set<string>();
  const dirs = new Set<string>();
  const todo = [join(ROOT, 'cli', 'main.ts')];
  const ref = /(?:\bfrom\s*|\bimport\s*\(\s*|\bnew URL\(\s*)'(\.{1,2}\/[^']+)'/g;
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    dirs.add(relative(ROOT, file).split('/')[0] ?? '');
    if (!/\.(ts|js|mjs)$/.test(file)) continue;
    for (const m of readFileSync(file, 'utf8').matchAll(ref)) {
      const target = resolve(dirname(file), m[1] ?? '');
      if (!existsSync(target)) continue;
      // A directory named by URL (the web console's files) is needed whole.
      if (statSync(target).isFile()) todo.push(target);
      else dirs.add(relative(ROOT, target).split('/')[0] ?? '');
    }
  }
  return dirs;
}

/** The source paths (first arguments) of a stage's COPY instructions that take from the build context. */
function contextCopies(stage: number): Set<string> {
  return new Set(
    inStage(stage, 'COPY')
      .filter((c) => !c.args.startsWith('--from='))
      .flatMap((c) => c.args.split(/\s+/).slice(0, -1))
      .map((p) => p.replace(/^\.\//, '').replace(/\/$/, '')),
  );
}

/** The stage that runs `npm run build`, and its name. */
function buildStage(): { index: number; name: string } {
  const index = stages.findIndex((_, n) => inStage(n, 'RUN').some((r) => /\bnpm run build\b/.test(r.args)));
  return { index, name: /\s+AS\s+(\S+)$/i.exec(stages[index]?.args ?? '')?.[1] ?? '' };
}

describe('Dockerfile', () => {
  it('builds on Node 20 bookworm in every stage, dependencies in a stage of their own', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages)
      expect(s.args).toMatch(/^node:20-bookworm-slim(@sha256:[0-9a-f]{64})?\s+AS\s+\S+$/i);
  });

  it('installs exactly the lockfile without devDependencies, the native toolchain in the build stage', () => {
    const build = stages.findIndex((_, n) => inStage(n, 'RUN').some((r) => /\bnpm ci\b/.test(r.args)));
    expect(build, 'a stage runs npm ci').toBeGreaterThanOrEqual(0);
    expect(build).toBeLessThan(last);
    const runs = inStage(build, 'RUN').map((r) => r.args);
    const ci = runs.find((r) => /\bnpm ci\b/.test(r))!;
    expect(ci).toMatch(/--omit=dev\b/);
    expect(
      dockerfile.some((i) => /\bnpm (install|i)\b/.test(i.args)),
      'npm install (ignores the lockfile)',
    ).toBe(false);
    // The lockfile is in the stage before npm ci runs.
    const copies = inStage(build, 'COPY').map((c) => c.args);
    expect(copies.some((c) => /\bpackage-lock\.json\b/.test(c) && /\bpackage\.json\b/.test(c))).toBe(true);
    // better-sqlite3's fallback build (node-gyp) needs these.
    for (const tool of ['python3', 'make', 'g++']) expect(runs.join('\n')).toContain(tool);
  });

  it('has no compiler toolchain in the runtime stage and takes node_modules from the build stage', () => {
    const runs = runtime('RUN')
      .map((r) => r.args)
      .join('\n');
    for (const tool of ['g++', 'gcc', 'make', 'python3', 'build-essential', 'node-gyp'])
      expect(runs.split(/\s+/), `runtime stage installs ${tool}`).not.toContain(tool);
    expect(runs).not.toMatch(/\bnpm (ci|install)\b/);
    const buildName = /\s+AS\s+(\S+)$/i.exec(stages[0]?.args ?? '')?.[1];
    expect(
      runtime('COPY').some(
        (c) => c.args.startsWith(`--from=${buildName} `) && c.args.includes('node_modules'),
      ),
    ).toBe(true);
  });

  it('runs tessera: the entrypoint, and `tessera` on PATH for the chart and kubectl exec', () => {
    const entry = execForm(runtime('ENTRYPOINT').at(-1)?.args ?? '[]');
    expect(entry.at(-1)).toBe('tessera');
    // The chart overrides the entrypoint with command: ["tessera"], so it must be on PATH.
    for (const t of [allocatorTemplate, agentTemplate]) expect(t).toContain('command: ["tessera"]');
    expect(
      runtime('RUN').some((r) =>
        /\bln -s \S*\/bin\/tessera\.js \/usr\/(local\/)?bin\/tessera\b/.test(r.args),
      ),
    ).toBe(true);
    const bin = read('bin/tessera.js');
    expect(bin.startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(statSync(join(ROOT, 'bin', 'tessera.js')).mode & 0o111).not.toBe(0);
  });

  it('runs the compiled JavaScript: dist/ from a build stage, no TypeScript sources and no tsx', () => {
    const build = buildStage();
    expect(build.index, 'a stage runs npm run build').toBeGreaterThanOrEqual(0);
    expect(build.index).toBeLessThan(last);
    // The build stage has the devDependencies (the compiler, buf): its npm ci keeps them.
    const ci = inStage(build.index, 'RUN').find((r) => /\bnpm ci\b/.test(r.args));
    expect(ci?.args).not.toMatch(/--omit=dev\b/);
    expect(
      runtime('COPY').some((c) => c.args === `--from=${build.name} /opt/tessera/dist ./dist`),
      'the runtime stage copies dist/ from the build stage',
    ).toBe(true);
    // Nothing TypeScript in the runtime stage: only bin/ and package.json from the context.
    expect([...contextCopies(last)].sort()).toEqual(['bin', 'package.json']);
    // bin/tessera.js runs dist/cli/main.js where no sources sit beside it, as in the image.
    expect(read('bin/tessera.js')).toContain("'../dist/cli/main.js'");
    const pkgJson = JSON.parse(read('package.json')) as {
      dependencies: object;
      devDependencies: object;
      files: string[];
    };
    expect(Object.keys(pkgJson.dependencies)).not.toContain('tsx');
    expect(Object.keys(pkgJson.devDependencies)).toContain('tsx');
    expect(pkgJson.files).toContain('dist/');
  });

  it('builds from every source directory the CLI loads at run time', () => {
    const copied = contextCopies(buildStage().index);
    const needed = [...sourceDirs()].sort();
    expect(needed).toEqual(expect.arrayContaining(['cli', 'allocator', 'agent', 'common', 'web']));
    expect(needed.filter((d) => !copied.has(d))).toEqual([]);
    for (const f of ['tsconfig.json', 'tsconfig.build.json', 'scripts/build.mjs'])
      expect(copied).toContain(f);
  });

  it('keeps the allocator state where the chart mounts its volume, writable by the allocator user', () => {
    const mount = dataMountPath(allocatorTemplate);
    expect(allocatorTemplate).toMatch(new RegExp(`- --data\\s*\\n\\s*- ${mount}\\s*\\n`));
    expect(runtimeEnv().get('TESSERA_DATA')).toBe(mount);
    const { runAsUser, runAsGroup, runAsNonRoot } = values.allocator.podSecurityContext;
    expect(runAsNonRoot).toBe(true);
    expect(
      runtime('RUN').some((r) =>
        r.args.includes(`install -d -o ${runAsUser} -g ${runAsGroup} -m 0700 ${mount}`),
      ),
      `the runtime stage creates ${mount} owned by ${runAsUser}:${runAsGroup}`,
    ).toBe(true);
  });

  it("runs as the chart's non-root allocator user by default; the chart makes the agent root", () => {
    const user = runtime('USER').at(-1)?.args ?? '';
    const { runAsUser, runAsGroup } = values.allocator.podSecurityContext;
    // Numeric, so kubelet can check runAsNonRoot without reading /etc/passwd.
    expect(user).toBe(`${runAsUser}:${runAsGroup}`);
    expect(runAsUser).not.toBe(0);
    expect(values.agent.securityContext.runAsUser).toBe(0);
  });

  it('exposes the ports the chart uses', () => {
    const ports = runtime('EXPOSE').flatMap((e) => e.args.split(/\s+/));
    expect(allocatorTemplate).toContain('containerPort: 7400');
    expect(ports).toContain('7400');
    expect(ports).toContain(String(values.agent.metricsPort));
  });

  it("carries OCI labels that agree with package.json and the chart's image name and tag", () => {
    const l = labels();
    const version = /^VERSION=(\S+)$/.exec(
      runtime('ARG').find((a) => a.args.startsWith('VERSION='))?.args ?? '',
    );
    expect(version?.[1]).toBe(pkg.version);
    expect(chart.appVersion).toBe(pkg.version);
    expect(l.get('org.opencontainers.image.version')).toBe(`\${VERSION}`); // the ARG above
    expect(l.get('org.opencontainers.image.licenses')).toBe(pkg.license);
    expect(l.get('org.opencontainers.image.title')).toBe('tessera');
    const source = l.get('org.opencontainers.image.source') ?? '';
    expect(source).toMatch(/^https:\/\/github\.com\/[\w.-]+\/[\w.-]+$/);
    // ghcr.io links the package to the repository named by the source label.
    expect(values.image.repository).toBe(`ghcr.io/${source.replace('https://github.com/', '')}`);
    expect(values.image.tag).toBe('');
  });
});

describe('.dockerignore', () => {
  it('keeps dependencies, history, state and test output out of the build context', () => {
    const entries = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    for (const e of ['.git', 'test-artifacts', 'tessera-data']) expect(entries).toContain(e);
    expect(entries.some((e) => e === 'node_modules' || e === '**/node_modules')).toBe(true);
    // Nothing the Dockerfile copies may be ignored; dist/ and the wire code are built in the image.
    for (const d of [
      'bin',
      'cli',
      'allocator',
      'agent',
      'common',
      'sim',
      'web',
      'scripts',
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
    ])
      expect(entries).not.toContain(d);
    expect(entries).toContain('dist');
    expect(entries).toContain('!scripts/build.mjs');
  });
});

const dockerUp = spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 20_000 }).status === 0;

describe('docker build', () => {
  if (!dockerUp) {
    it.skip('build and run the image: skipped, no docker engine is running (`docker info` failed)', () => {});
    return;
  }
  it('builds the image, which prints the version, runs as 10001 and loads better-sqlite3', () => {
    const tag = `tessera-test:${process.pid}`;
    const docker = (args: string[]) =>
      execFileSync('docker', args, { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' });
    docker(['build', '-q', '-t', tag, '.']);
    try {
      expect(docker(['run', '--rm', tag, '--version']).trim()).toBe(pkg.version);
      expect(docker(['run', '--rm', '--entrypoint', 'id', tag, '-u']).trim()).toBe('10001');
      docker([
        'run',
        '--rm',
        '--entrypoint',
        'node',
        tag,
        '-e',
        "new (require('better-sqlite3'))(':memory:')",
      ]);
      const tools = spawnSync('docker', [
        'run',
        '--rm',
        '--entrypoint',
        'sh',
        tag,
        '-c',
        'command -v g++ || command -v make',
      ]);
      expect(tools.status, 'a compiler toolchain in the runtime image').not.toBe(0);
    } finally {
      spawnSync('docker', ['image', 'rm', '-f', tag], { stdio: 'ignore' });
    }
  }, 900_000);
});
