/**
 * The npm package as a user installs it: `npm pack` (its prepack runs `npm run build`), the tarball
 * installed globally into an empty prefix, as the README's systemd recipe does, then the installed
 * `tessera`: `--version`, and a `tessera up` with one sim agent that serves the console and runs a
 * workload to Completed (the compiled scheduler thread, agent and sim GPU tools), its agent started
 * from the compiled entry with the agent's node flags; the PostgreSQL store's worker thread loads from
 * the build. Nothing TypeScript and no tsx in the install.
 *
 * Dependencies come from npm's cache or registry. The install skips install scripts (npm 11 runs none
 * in a global install unless told, and better-sqlite3's would download or compile its addon): the
 * addon this checkout's `npm ci` built is copied in instead, the same version by the exact pin.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { AGENT_NODE_FLAGS } from '../../agent/node-flags.ts';
import { fetchTrusting } from '../../cli/client/tls-fetch.ts';
import { until } from '../helpers/wait.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'tessera-pack-'));
const prefix = join(root, 'prefix');
const installed = join(prefix, 'lib', 'node_modules', pkg.name);
const tessera = join(prefix, 'bin', 'tessera');
const data = join(root, 'data');
const started: ChildProcess[] = [];

afterAll(() => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

/** Every file under `dir`, relative to it. */
function files(dir: string, rel = ''): string[] {
  return readdirSync(join(dir, rel), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(dir, join(rel, e.name)) : [join(rel, e.name)],
  );
}

/** The installed `tessera` with `args`, in the data dir's folder; PATH without this checkout's bins. */
function cli(...args: string[]) {
  return run(tessera, args, { cwd: root, env: { ...process.env, TESSERA_DATA: data }, timeout: 60_000 });
}

/** `pid`'s children's command lines (NUL-separated arguments), from /proc. */
function childArgs(pid: number): string[][] {
  const out: string[][] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid)
        out.push(readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').slice(0, -1));
    } catch {
      // Ended while we looked.
    }
  }
  return out;
}

describe.skipIf(process.platform !== 'linux')('the npm package', () => {
  it('packs the build, installs into an empty prefix and runs tessera --version and tessera up', async () => {
    // npm pack runs prepack (npm run build): the tarball holds a fresh dist/.
    const packed = await run('npm', ['pack', '--pack-destination', root, '--json'], {
      cwd: ROOT,
      timeout: 300_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    // Its stdout holds the lifecycle scripts' output, then the JSON report from a line of its own.
    const report = packed.stdout.slice(packed.stdout.search(/^\[$/m));
    const { filename, files: entries } = (
      JSON.parse(report) as { filename: string; files: { path: string }[] }[]
    )[0]!;
    const paths = entries.map((f) => f.path);
    expect(paths).toContain('bin/tessera.js');
    expect(paths).toContain('dist/cli/main.js');
    expect(paths).toContain('dist/common/proto/gen/tessera.js');
    expect(paths).toContain('dist/web/index.html');
    expect(paths.filter((p) => p.endsWith('.ts') || p.startsWith('cli/') || p.startsWith('agent/'))).toEqual(
      [],
    );

    mkdirSync(prefix);
    await run(
      'npm',
      [
        'install',
        '-g',
        '--prefix',
        prefix,
        '--omit=dev',
        '--ignore-scripts',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        join(root, filename),
      ],
      { cwd: root, timeout: 300_000 },
    );
    const addon = join('node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
    mkdirSync(join(installed, 'node_modules', 'better-sqlite3', 'build', 'Release'), { recursive: true });
    copyFileSync(join(ROOT, addon), join(installed, addon));
    expect(existsSync(join(installed, 'node_modules', 'tsx')), 'tsx installed with the package').toBe(false);
    expect(existsSync(join(installed, 'node_modules', 'typescript')), 'typescript installed').toBe(false);
    expect(files(join(installed, 'dist')).filter((f) => f.endsWith('.ts'))).toEqual([]);

    const version = await cli('--version');
    expect(version.stdout.trim()).toBe(pkg.version);

    // The PostgreSQL store's synchronous worker thread loads from the build too: its first query
    // reaches pg in the worker, which answers for a port where no server listens.
    const pg = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { openPostgres } = await import(${JSON.stringify(join(installed, 'dist', 'allocator', 'store', 'postgres.js'))});
         try { openPostgres('postgres://nobody@127.0.0.1:1/none', { connectTimeoutMs: 5000 }); }
         catch (e) { console.log(e.name, e.code); process.exit(0); }`,
      ],
      { timeout: 60_000 },
    );
    expect(pg.stdout.trim()).toBe('PostgresError ECONNREFUSED');

    const up = spawn(
      tessera,
      ['up', '--data', data, '--port', '0', '--gpu', 'sim', '--lease', '3s', '--heartbeat', '500ms'],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    started.push(up);
    let out = '';
    let err = '';
    up.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
    });
    up.stderr?.on('data', (b: Buffer) => {
      err += b.toString();
    });
    await until(
      () => out.includes('Ctrl-C stops') || up.exitCode !== null,
      'tessera up to print its next commands',
      60_000,
      100,
    );
    expect(out, err).toMatch(/1 of 1 agent\(s\) joined, 4 simulated GPU/);

    // Its agent runs the installed build's own entry with the agent's node flags.
    const agent = childArgs(up.pid ?? -1).find((a) => a.includes('agent'));
    const entry = agent?.findIndex((a) => a.endsWith(join('dist', 'cli', 'main.js'))) ?? -1;
    expect(agent?.[entry], agent?.join(' ')).toBe(join(installed, 'dist', 'cli', 'main.js'));
    expect(agent?.slice(1, entry)).toEqual([...AGENT_NODE_FLAGS]);

    // The console's files shipped, and the compiled scheduler, agent and sim tools run a workload.
    const link = /Web console: (https:\/\/\S+)\/#token=/.exec(out);
    const page = await fetchTrusting(readFileSync(join(data, 'tls', 'ca.crt'), 'utf8'))(`${link?.[1]}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>');
    await cli(
      'submit',
      'training',
      'smoke',
      '-p',
      'main',
      '--gpu-fraction',
      '0.5',
      '--',
      'sh',
      '-c',
      'exit 0',
    );
    await until(
      async () => {
        const list = await cli('list', '-o', 'json');
        return (JSON.parse(list.stdout) as { phase: string }[])[0]?.phase === 'Completed';
      },
      'the workload Completed in tessera list',
      60_000,
      250,
    );

    up.kill('SIGINT');
    const code = await new Promise((r) => (up.exitCode !== null ? r(up.exitCode) : up.once('exit', r)));
    expect(code, err).toBe(0);
  }, 600_000);
});
