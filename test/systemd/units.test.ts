/**
 * The systemd units in systemd/: the keys operators rely on (state dir, restarts, ordering, the agent's
 * KillMode=process so pods survive it, the hardening each unit can and cannot take), every flag in an
 * ExecStart= being a real flag of the CLI, the environment files matching the units' defaults, and
 * `systemd-analyze verify` on both units where that tool is installed.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const DIR = join(ROOT, 'systemd');
const BIN = join(ROOT, 'bin', 'tessera.js');

/** A unit file as section -> key -> every value given (in order; systemd keys may repeat). */
type Unit = Map<string, Map<string, string[]>>;

/** A tiny parse of systemd's INI dialect: sections, `Key=value`, `#`/`;` comments, `\` continuations. */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1] as string, section);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0 || section === undefined) throw new Error(`not a unit-file line: ${line}`);
    const key = line.slice(0, eq).trim();
    const values = section.get(key) ?? [];
    values.push(line.slice(eq + 1).trim());
    section.set(key, values);
  }
  return unit;
}

function all(unit: Unit, section: string, key: string): string[] {
  return unit.get(section)?.get(key) ?? [];
}

/** The effective value of a key: its last assignment. */
function get(unit: Unit, section: string, key: string): string | undefined {
  return all(unit, section, key).at(-1);
}

/** Space-separated list keys (After=, Wants=, ...) merged over every assignment. */
function list(unit: Unit, section: string, key: string): string[] {
  return all(unit, section, key).flatMap((v) => v.split(/\s+/).filter((w) => w !== ''));
}

/** `Environment=K=V` assignments of a unit (the defaults); `"K=V W"` quoted when the value has spaces. */
function defaults(unit: Unit): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of all(unit, 'Service', 'Environment')) {
    const v = /^"(.*)"$/.exec(raw)?.[1] ?? raw;
    const eq = v.indexOf('=');
    out.set(v.slice(0, eq), v.slice(eq + 1));
  }
  return out;
}

/** An EnvironmentFile: KEY=value lines, and for each key whether a comment documents it. */
function parseEnvFile(text: string): Map<string, { value: string; documented: boolean }> {
  const out = new Map<string, { value: string; documented: boolean }>();
  let comment = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') {
      comment = false;
      continue;
    }
    if (line.startsWith('#')) {
      comment = true;
      continue;
    }
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`not a VAR=value line: ${line}`);
    out.set(m[1] as string, { value: m[2] as string, documented: comment });
  }
  return out;
}

/** Variables an ExecStart= expands: `${X}` (one argument) and `$X` (split at spaces). */
function expansions(execStart: string): { braced: string[]; split: string[] } {
  const braced = [...execStart.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1] as string);
  const split = [...execStart.matchAll(/\$([A-Za-z_][A-Za-z0-9_]*)(?![A-Za-z0-9_{])/g)].map(
    (m) => m[1] as string,
  );
  return { braced, split };
}

function seconds(span: string | undefined): number {
  const m = /^(\d+)(s|sec|min)?$/.exec(span ?? '');
  if (!m) return Number.NaN;
  return Number(m[1]) * (m[2] === 'min' ? 60 : 1);
}

const YES = new Set(['yes', 'true', '1', 'on']);

function which(cmd: string): boolean {
  try {
    execFileSync('which', [cmd], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const HAS_SYSTEMD_ANALYZE = which('systemd-analyze');

let allocator: Unit;
let agent: Unit;
let allocatorText: string;
let agentText: string;

beforeAll(async () => {
  allocatorText = await readFile(join(DIR, 'tessera-allocator.service'), 'utf8');
  agentText = await readFile(join(DIR, 'tessera-agent.service'), 'utf8');
  allocator = parseUnit(allocatorText);
  agent = parseUnit(agentText);
});

describe.each([
  { name: 'allocator', file: 'tessera-allocator.service', env: 'allocator.env' },
  { name: 'agent', file: 'tessera-agent.service', env: 'agent.env' },
])('systemd/$file', ({ name, env }) => {
  const unit = () => (name === 'allocator' ? allocator : agent);

  it('is a simple service started at boot, ordered after the network', () => {
    const u = unit();
    expect(get(u, 'Service', 'Type')).toBe('simple');
    expect(get(u, 'Install', 'WantedBy')).toBe('multi-user.target');
    expect(list(u, 'Unit', 'After')).toContain('network-online.target');
    expect(list(u, 'Unit', 'Wants')).toContain('network-online.target');
  });

  it('runs /usr/bin/tessera with --data in its StateDirectory', () => {
    const u = unit();
    expect(get(u, 'Service', 'StateDirectory')).toBe(`tessera/${name}`);
    expect(get(u, 'Service', 'ExecStart')).toMatch(
      new RegExp(`^/usr/bin/tessera ${name} --data \\$\\{STATE_DIRECTORY\\}( |$)`),
    );
  });

  it('restarts on failure, after a pause, and is given time to stop', () => {
    const u = unit();
    expect(get(u, 'Service', 'Restart')).toBe('on-failure');
    const restartSec = seconds(get(u, 'Service', 'RestartSec'));
    expect(restartSec).toBeGreaterThanOrEqual(1);
    expect(restartSec).toBeLessThanOrEqual(60);
    const stop = seconds(get(u, 'Service', 'TimeoutStopSec'));
    expect(stop).toBeGreaterThanOrEqual(5);
    expect(stop).toBeLessThanOrEqual(120);
  });

  it(`uses only flags that \`tessera ${name} --help\` lists`, async () => {
    const { stdout } = await run(process.execPath, [BIN, name, '--help'], { cwd: ROOT });
    const flags = (get(unit(), 'Service', 'ExecStart') ?? '')
      .split(/\s+/)
      .filter((w) => w.startsWith('--'))
      .map((w) => w.replace(/=.*$/, ''));
    expect(flags.length).toBeGreaterThan(3);
    for (const flag of flags)
      expect(stdout, `${flag} in tessera ${name} --help`).toMatch(new RegExp(`${flag}\\b`));
  });

  it(`reads /etc/tessera/${env}, whose example matches the unit's defaults and documents each variable`, async () => {
    const u = unit();
    expect(all(u, 'Service', 'EnvironmentFile')).toEqual([`-/etc/tessera/${env}`]);
    const vars = parseEnvFile(await readFile(join(DIR, env), 'utf8'));
    const defs = defaults(u);
    const { braced, split } = expansions(get(u, 'Service', 'ExecStart') ?? '');
    // A ${VAR} is exactly one argument even when unset, so each needs a default; systemd sets
    // STATE_DIRECTORY and CREDENTIALS_DIRECTORY itself.
    for (const v of braced.filter((b) => b !== 'STATE_DIRECTORY' && b !== 'CREDENTIALS_DIRECTORY')) {
      expect(defs.has(v), `Environment=${v}= default`).toBe(true);
      expect(vars.has(v), `${v} in ${env}`).toBe(true);
    }
    for (const v of split) expect(vars.has(v), `${v} in ${env}`).toBe(true);
    for (const [key, def] of defs) expect(vars.get(key)?.value, `${key} in ${env} vs the unit`).toBe(def);
    for (const [key, { documented }] of vars) expect(documented, `${key} has a comment`).toBe(true);
  });
});

describe('systemd/tessera-allocator.service TLS', () => {
  it('serves HTTPS with the certificate and key systemd hands it as credentials', () => {
    const creds = all(allocator, 'Service', 'LoadCredential');
    expect(creds).toEqual([
      'allocator.crt:/etc/tessera/tls/allocator.crt',
      'allocator.key:/etc/tessera/tls/allocator.key',
    ]);
    const exec = get(allocator, 'Service', 'ExecStart') ?? '';
    expect(exec).toMatch(/ --tls-cert \$\{CREDENTIALS_DIRECTORY\}\/allocator\.crt /);
    expect(exec).toMatch(/ --tls-key \$\{CREDENTIALS_DIRECTORY\}\/allocator\.key /);
    expect(exec).not.toContain('--insecure-http');
  });

  it('says how to run plain HTTP behind a proxy instead', () => {
    expect(allocatorText).toMatch(/--insecure-http/);
  });
});

describe('systemd/tessera-allocator.service hardening', () => {
  it('runs as its own unprivileged user', () => {
    const dynamic = YES.has(get(allocator, 'Service', 'DynamicUser') ?? '');
    expect(dynamic || get(allocator, 'Service', 'User') === 'tessera').toBe(true);
    expect(get(allocator, 'Service', 'CapabilityBoundingSet')).toBe('');
  });

  it('is sandboxed to its state dir and the network', () => {
    const want: Record<string, string> = {
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      NoNewPrivileges: 'yes',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectControlGroups: 'yes',
      RestrictNamespaces: 'yes',
      RestrictSUIDSGID: 'yes',
      LockPersonality: 'yes',
    };
    for (const [key, value] of Object.entries(want)) expect(get(allocator, 'Service', key), key).toBe(value);
    expect(list(allocator, 'Service', 'RestrictAddressFamilies').sort()).toEqual([
      'AF_INET',
      'AF_INET6',
      'AF_UNIX',
    ]);
    // Node's JIT needs writable+executable memory.
    expect(YES.has(get(allocator, 'Service', 'MemoryDenyWriteExecute') ?? 'no')).toBe(false);
  });
});

describe('systemd/tessera-agent.service', () => {
  it('follows the NVIDIA persistence daemon without requiring it', () => {
    expect(list(agent, 'Unit', 'After')).toContain('nvidia-persistenced.service');
    expect(list(agent, 'Unit', 'Wants')).toContain('nvidia-persistenced.service');
    for (const key of ['Requires', 'Requisite', 'BindsTo'])
      expect(list(agent, 'Unit', key), key).not.toContain('nvidia-persistenced.service');
  });

  it('stops only the agent process, so its pods outlive it, and says why', () => {
    expect(get(agent, 'Service', 'KillMode')).toBe('process');
    const comment = agentText.slice(0, agentText.indexOf('\nKillMode=process'));
    const block = comment.slice(comment.lastIndexOf('\n\n')).split('\n').slice(-8).join('\n');
    expect(block).toMatch(/pods/i);
    expect(block).toMatch(/adopt/i);
  });

  it('runs as root with only the hardening its pods and the GPU tools tolerate', () => {
    expect(get(agent, 'Service', 'User') ?? 'root').toBe('root');
    expect(get(agent, 'Service', 'DynamicUser') ?? 'no').not.toMatch(/^(yes|true|1|on)$/);
    // Each of these is inherited by the pods or cuts off /dev/nvidia*, nvidia-modprobe or home dirs.
    for (const key of [
      'NoNewPrivileges',
      'PrivateDevices',
      'PrivateTmp',
      'ProtectClock',
      'ProtectKernelModules',
      'MemoryDenyWriteExecute',
    ])
      expect(YES.has(get(agent, 'Service', key) ?? 'no'), `${key} must stay off`).toBe(false);
    expect(['no', 'false', undefined]).toContain(get(agent, 'Service', 'ProtectHome'));
    expect(['full', 'yes', 'no', undefined]).toContain(get(agent, 'Service', 'ProtectSystem'));
    for (const key of ['DevicePolicy', 'DeviceAllow', 'CapabilityBoundingSet', 'RestrictAddressFamilies'])
      expect(get(agent, 'Service', key), key).toBeUndefined();
    // The agent reads the join token from TESSERA_TOKEN: never on its command line.
    expect(get(agent, 'Service', 'ExecStart')).not.toContain('--token');
    expect(get(agent, 'Service', 'ExecStart')).not.toContain('--allocator');
    // Each option left off is explained in the unit.
    for (const key of ['NoNewPrivileges=', 'ProtectHome=', 'PrivateTmp=', 'PrivateDevices='])
      expect(agentText).toContain(`#  ${key}`);
  });

  it('keeps the agent.env example with the join token, the https:// allocator URL and the CA the agent reads', async () => {
    const vars = parseEnvFile(await readFile(join(DIR, 'agent.env'), 'utf8'));
    expect(vars.get('TESSERA_URL')?.value).toMatch(/^https:\/\//);
    expect(vars.has('TESSERA_TOKEN')).toBe(true);
    expect(vars.get('TESSERA_TOKEN')?.value).toBe('');
    // TESSERA_CA is the agent's --ca: the allocator's certificate is checked against it.
    expect(vars.get('TESSERA_CA')?.value).toBe('/etc/tessera/tls/ca.crt');
    const { stdout } = await run(process.execPath, [BIN, 'agent', '--help'], { cwd: ROOT });
    expect(stdout).toMatch(/--ca <file>.*TESSERA_CA/s);
  });
});

describe('systemd-analyze verify', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-units-'));
    // verify checks that ExecStart='s program exists: point it at this checkout's bin/tessera.js.
    for (const f of ['tessera-allocator.service', 'tessera-agent.service']) {
      const text = await readFile(join(DIR, f), 'utf8');
      await writeFile(join(dir, f), text.replaceAll('/usr/bin/tessera ', `${BIN} `));
    }
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.skipIf(!HAS_SYSTEMD_ANALYZE)(
    `accepts both units without a warning${HAS_SYSTEMD_ANALYZE ? '' : ' (SKIPPED: systemd-analyze is not on PATH, install systemd to run it)'}`,
    async () => {
      const units = ['tessera-allocator.service', 'tessera-agent.service'].map((f) => join(dir, f));
      const r = await run('systemd-analyze', ['verify', '--man=no', ...units]).catch(
        (e: { code?: number; stdout?: string; stderr?: string }) => e,
      );
      const stderr = r.stderr ?? '';
      // Only lines about these units count: a host's own units may warn about themselves.
      const ours = stderr.split('\n').filter((l) => l.includes('tessera-'));
      expect(ours, stderr).toEqual([]);
      expect('code' in r ? r.code : 0, stderr).toBe(0);
    },
  );
});
