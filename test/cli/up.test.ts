/**
 * `tessera up` as a user runs it: a real process with one sim agent, an HTTPS URL from its own CA
 * (keys 0600, reused by the next run), the printed URL and next commands, the admin token file
 * (0600) that the client commands find on their own, no join token on any agent's command line,
 * Ctrl-C (SIGINT) stopping the allocator and its agent, and a second run keeping the data.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fetchTrusting } from '../../cli/client/tls-fetch.ts';
import { until } from '../helpers/wait.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'tessera.js');
const root = mkdtempSync(join(tmpdir(), 'tessera-up-'));
const data = join(root, 'data');
const started: ChildProcess[] = [];

afterAll(() => {
  for (const c of started) if (c.exitCode === null) c.kill('SIGKILL');
  // A failed run may leave the agents `up` started (and their sim tools): find them by our temp dir.
  spawnSync('pkill', ['-KILL', '-f', root]);
  rmSync(root, { recursive: true, force: true });
});

/** Starts `tessera up` and resolves with its output once it has printed the next commands. */
function up(): Promise<{ child: ChildProcess; out: () => string; err: () => string }> {
  const child = spawn(
    process.execPath,
    [BIN, 'up', '--data', data, '--port', '0', '--gpu', 'sim', '--lease', '3s', '--heartbeat', '500ms'],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  started.push(child);
  let out = '';
  let err = '';
  child.stderr?.on('data', (b: Buffer) => {
    err += b.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`tessera up printed no URL in 30 s:\n${out}\n${err}`)),
      30_000,
    );
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('Ctrl-C stops')) {
        clearTimeout(timer);
        resolve({ child, out: () => out, err: () => err });
      }
    });
    child.once('exit', (code) => reject(new Error(`tessera up exited ${code}:\n${out}\n${err}`)));
  });
}

/** Runs a client command; TESSERA_DATA lets it find the allocator and admin token that `up` wrote. */
function tessera(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: root,
    env: { ...process.env, TESSERA_DATA: data },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (b: Buffer) => {
    stdout += b.toString();
  });
  child.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

/** The command lines of `pid`'s child processes, from /proc (readable by any user, as `ps` shows them). */
function childCommandLines(pid: number): string[] {
  const lines: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of stat is the parent pid; the name before it is in parentheses and may hold spaces.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) lines.push(readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' '));
    } catch {
      // The process ended while we looked.
    }
  }
  return lines;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe.skipIf(process.platform !== 'linux')('tessera up', () => {
  it('starts a cluster, runs a workload to Completed, stops on Ctrl-C and keeps its data', async () => {
    const first = await up();
    expect(first.out()).toMatch(
      /allocator https:\/\/127\.0\.0\.1:\d+, 1 of 1 agent\(s\) joined, 4 simulated GPU/,
    );
    expect(first.out()).toContain('tessera submit training hello -p main');
    const caFile = join(data, 'tls', 'ca.crt');
    expect(first.out()).toContain(`TESSERA_CA=${caFile}`);
    // The console link logs in with the admin token, and the allocator serves the console there,
    // over HTTPS with a certificate from the data dir's own CA.
    const admin = readFileSync(join(data, 'admin-token'), 'utf8').trim();
    const link = /Web console: (https:\/\/\S+)\/#token=(\S+)/.exec(first.out());
    expect(link?.[2]).toBe(admin);
    const page = await fetchTrusting(readFileSync(caFile, 'utf8'))(`${link?.[1]}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>');
    await expect(fetch(`${link?.[1]}/`)).rejects.toThrow();
    for (const f of ['admin-token', 'join-token', 'tls/ca.key', 'tls/allocator.key'])
      expect(statSync(join(data, f)).mode & 0o777, f).toBe(0o600);
    const firstCa = readFileSync(caFile, 'utf8');
    const firstCert = readFileSync(join(data, 'tls', 'allocator.crt'), 'utf8');

    // The agent it started got the join token by environment: no command line shows it.
    const joinToken = readFileSync(join(data, 'join-token'), 'utf8').trim();
    const agents = childCommandLines(first.child.pid ?? -1).filter((l) => l.includes(' agent '));
    expect(agents).toHaveLength(1);
    expect(agents[0]).toContain(`--ca ${caFile}`);
    expect(agents[0]).not.toContain(joinToken);
    expect(agents[0]).not.toContain('--token');

    const sub = await tessera(
      'submit',
      'training',
      'hello',
      '-p',
      'main',
      '--gpu-fraction',
      '0.5',
      '--',
      'sh',
      '-c',
      'exit 0',
    );
    expect(sub.code, sub.stderr).toBe(0);
    await until(
      async () => {
        const list = await tessera('list', '-o', 'json');
        return (JSON.parse(list.stdout) as { phase: string }[])[0]?.phase === 'Completed';
      },
      'the workload Completed in tessera list',
      20_000,
      200,
    );

    first.child.kill('SIGINT');
    expect(await exited(first.child)).toBe(0);
    // The agent it started has gone too: nothing answers on the old URL.
    const after = await tessera('list');
    expect(after.code).toBe(1);

    const second = await up();
    // The CA and certificate of the first run are reused, so agents and saved configs keep trusting it.
    expect(readFileSync(caFile, 'utf8')).toBe(firstCa);
    expect(readFileSync(join(data, 'tls', 'allocator.crt'), 'utf8')).toBe(firstCert);
    const list = await tessera('list', '-o', 'json');
    expect(
      (JSON.parse(list.stdout) as { name: string; phase: string }[]).map((w) => [w.name, w.phase]),
    ).toEqual([['hello', 'Completed']]);
    second.child.kill('SIGINT');
    expect(await exited(second.child)).toBe(0);
  }, 90_000);
});
