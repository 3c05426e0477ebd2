/**
 * What ships runs the compiled JavaScript: bin/tessera.js picks dist/cli/main.js wherever no
 * TypeScript sources sit beside it (the npm package, the image), the systemd units start that
 * installed bin, and every place that deploys the agent gives it the node flags of
 * agent/node-flags.ts. test/deploy/dockerfile.test.ts checks the image's side, pack.test.ts the
 * package installed for real.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AGENT_NODE_FLAGS } from '../../agent/node-flags.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (rel: string) => readFileSync(join(ROOT, rel), 'utf8');
const scratch = mkdtempSync(join(tmpdir(), 'tessera-entry-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * A package laid out in a fresh folder: this checkout's bin/tessera.js, and as asked a dist/ entry
 * and a sources entry that each print which one ran, and node_modules (for tsx).
 */
function layout(name: string, o: { dist: boolean; sources: boolean; modules: boolean }): string {
  const dir = join(scratch, name);
  mkdirSync(join(dir, 'bin'), { recursive: true });
  cpSync(join(ROOT, 'bin', 'tessera.js'), join(dir, 'bin', 'tessera.js'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  if (o.dist) {
    mkdirSync(join(dir, 'dist', 'cli'), { recursive: true });
    writeFileSync(join(dir, 'dist', 'cli', 'main.js'), "console.log('compiled', process.argv[2]);\n");
  }
  if (o.sources) {
    mkdirSync(join(dir, 'cli'), { recursive: true });
    // TypeScript-only syntax: plain node cannot run it, tsx can.
    writeFileSync(
      join(dir, 'cli', 'main.ts'),
      "const s: string = 'sources';\nconsole.log(s, process.argv[2]);\n",
    );
  }
  if (o.modules) symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

function run(dir: string, env: Record<string, string> = {}) {
  const { TESSERA_COMPILED: _, ...base } = process.env;
  const r = spawnSync(process.execPath, [join(dir, 'bin', 'tessera.js'), 'agent'], {
    encoding: 'utf8',
    env: { ...base, ...env },
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr };
}

describe('bin/tessera.js', () => {
  it('runs dist/cli/main.js where no sources sit beside it (the package, the image), with its arguments', () => {
    expect(run(layout('shipped', { dist: true, sources: false, modules: true }))).toMatchObject({
      code: 0,
      out: 'compiled agent',
    });
  });

  it('runs the sources through tsx in a development checkout, even with a build present', () => {
    expect(run(layout('checkout', { dist: true, sources: true, modules: true }))).toMatchObject({
      code: 0,
      out: 'sources agent',
    });
  });

  it('runs the build of a checkout when TESSERA_COMPILED=1, or when tsx is not installed', () => {
    const dir = layout('forced', { dist: true, sources: true, modules: true });
    expect(run(dir, { TESSERA_COMPILED: '1' })).toMatchObject({ code: 0, out: 'compiled agent' });
    expect(run(layout('no-tsx', { dist: true, sources: true, modules: false }))).toMatchObject({
      code: 0,
      out: 'compiled agent',
    });
  });

  it('says to run `npm run build` when there is neither a build nor tsx', () => {
    const r = run(layout('bare', { dist: false, sources: true, modules: false }));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no compiled entry at .*dist\/cli\/main\.js: run `npm run build`/);
  });
});

describe('the units and the package', () => {
  it('start /usr/bin/tessera, the installed package, which ships dist/ and no TypeScript', () => {
    for (const unit of ['tessera-agent.service', 'tessera-allocator.service'])
      expect(read(`systemd/${unit}`)).toMatch(/^ExecStart=\/usr\/bin\/tessera (agent|allocator) /m);
    const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string>; files: string[] };
    expect(pkg.bin.tessera).toBe('bin/tessera.js');
    expect(pkg.files).toContain('dist/');
    // No source folder (cli/main.ts would make bin/tessera.js look for tsx) is in the package.
    for (const src of ['cli', 'agent', 'allocator', 'common', 'sim'])
      expect(pkg.files.map((f) => f.replace(/\/$/, ''))).not.toContain(src);
  });
});

describe("the agent's node flags", () => {
  const flags = AGENT_NODE_FLAGS.join(' ');

  it('are node options a node process accepts in NODE_OPTIONS', () => {
    const r = spawnSync(process.execPath, ['-e', 'process.exit(0)'], {
      env: { ...process.env, NODE_OPTIONS: flags },
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('are set by the systemd unit and its agent.env example', () => {
    expect(read('systemd/tessera-agent.service')).toContain(`Environment="NODE_OPTIONS=${flags}"\n`);
    expect(read('systemd/agent.env')).toContain(`\nNODE_OPTIONS=${flags}\n`);
  });

  it("are set by the chart's agent DaemonSet", () => {
    expect(read('helm/tessera/templates/agent-daemonset.yaml')).toMatch(
      new RegExp(`- name: NODE_OPTIONS\\n\\s+value: "${flags}"\\n`),
    );
  });
});
