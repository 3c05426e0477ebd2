import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bufferIo } from '../../cli/io.ts';
import { runCli } from '../../cli/program.ts';
import { POLICY_NAMES } from '../../sim/fill.ts';
import { TIMED_POLICY_NAMES } from '../../sim/timed.ts';

const fixture = (name: string): string =>
  fileURLToPath(new URL(`../fixtures/traces/${name}`, import.meta.url));
const NODES = fixture('nodes-small.csv');
const PODS = fixture('pods-small.csv');
const UNTIMED = fixture('pods-untimed.csv');
const BIN = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));

/** Runs `tessera ...args` in-process and returns its exit code and output. */
async function tessera(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = bufferIo();
  const code = await runCli(args, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

const simulate = (...args: string[]) => tessera('simulate', '--nodes', NODES, '--pods', PODS, ...args);

describe('tessera simulate --mode fill', () => {
  it('prints one JSON object per seed with exactly the documented keys and 131 curve points', async () => {
    const r = await simulate('--policy', 'binpack', '--seeds', '42-44', '-o', 'json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    const objects = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(objects.map((o) => o.seed)).toEqual([42, 43, 44]);
    for (const o of objects) {
      expect(Object.keys(o)).toEqual(['policy', 'seed', 'capacityGpus', 'curve', 'unallocatedPctAt100']);
      expect(o.policy).toBe('binpack');
      expect(o.capacityGpus).toBe(15);
      expect(typeof o.unallocatedPctAt100).toBe('number');
      const curve = o.curve as Record<string, unknown>[];
      expect(curve).toHaveLength(131);
      expect(curve.map((p) => p.arrivedPct)).toEqual(Array.from({ length: 131 }, (_, i) => i));
      for (const p of curve) expect(Object.keys(p)).toEqual(['arrivedPct', 'allocatedPct', 'fragmentedPct']);
    }
  });

  it('runs every policy with --policy all', async () => {
    const r = await simulate('--policy', 'all', '-o', 'json');
    expect(r.code).toBe(0);
    const policies = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as { policy: string }).policy);
    expect(policies).toEqual([...POLICY_NAMES]);
  });

  it('prints a table naming the default policy, fragmentation-aware, with seed 42', async () => {
    const r = await simulate();
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('fragmentation-aware');
    expect(r.stdout).toMatch(/unalloc@100 mean/);
    expect(r.stdout).toMatch(/^fragmentation-aware\s+42\s/m);
    // The compact curve: every 10% of arrived demand up to 130.
    expect(r.stdout).toMatch(/arrived %\s+0\s+10\s+20.*130$/m);
  });

  it('gives the same JSON for the same seed', async () => {
    const a = await simulate('--seed', '7', '-o', 'json');
    const b = await simulate('--seed', '7', '-o', 'json');
    expect(a.stdout).toBe(b.stdout);
  });
});

describe('tessera simulate --mode timed', () => {
  it('prints one JSON object per policy', async () => {
    const r = await simulate('--mode', 'timed', '--policy', 'all', '-o', 'json');
    expect(r.code).toBe(0);
    const objects = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(objects.map((o) => o.policy)).toEqual([...TIMED_POLICY_NAMES]);
    for (const o of objects) {
      expect(Object.keys(o)).toEqual([
        'policy',
        'seed',
        'arrivalScale',
        'capacityGpus',
        'pods',
        'placed',
        'unschedulable',
        'unschedulablePods',
        'queueDelayS',
        'delayedPct',
        'gpuAllocationPct',
        'gpuAllocationPeakPct',
        'makespanS',
        'arrivalSpanS',
        'offeredLoadPct',
      ]);
      expect(o.pods).toBe(12);
      expect(o.arrivalScale).toBe(1);
      expect(Object.keys(o.queueDelayS as object)).toEqual(['mean', 'p50', 'p90', 'p99', 'max']);
    }
  });

  it('compresses arrivals with --arrival-scale: the window shrinks and the offered load grows K-fold', async () => {
    const json = async (...args: string[]) =>
      JSON.parse(
        (await simulate('--mode', 'timed', '--policy', 'binpack', '-o', 'json', ...args)).stdout,
      ) as {
        arrivalScale: number;
        arrivalSpanS: number;
        offeredLoadPct: number;
      };
    const base = await json();
    const scaled = await json('--arrival-scale', '2.5');
    expect(scaled.arrivalScale).toBe(2.5);
    // The fixture's arrivals span 0..110 s.
    expect(base.arrivalSpanS).toBe(110);
    expect(scaled.arrivalSpanS).toBe(44);
    expect(scaled.offeredLoadPct).toBeCloseTo(base.offeredLoadPct * 2.5, 10);
  });

  it('names the arrival scale and the offered load in the table', async () => {
    const plain = await simulate('--mode', 'timed');
    expect(plain.stdout).toContain('arrival scale 1 (trace times)');
    expect(plain.stdout).toMatch(/^offered GPU load %\s+\d+\.\d\d$/m);
    const scaled = await simulate('--mode', 'timed', '--arrival-scale', '50');
    expect(scaled.code).toBe(0);
    expect(scaled.stdout).toContain('arrival scale 50 (arrivals 50x closer, runtimes kept)');
  });

  it.each([['0'], ['-2'], ['abc'], [''], ['Infinity'], ['1e3'], ['0x10'], ['2x']])(
    'rejects --arrival-scale %j with exit 2, saying it takes a positive number',
    async (value) => {
      const r = await simulate('--mode', 'timed', `--arrival-scale=${value}`);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--arrival-scale');
      expect(r.stderr).toContain('positive number');
      expect(r.stdout).toBe('');
    },
  );

  it('rejects --arrival-scale in fill mode, which drops the times', async () => {
    const r = await simulate('--arrival-scale', '10');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--arrival-scale');
    expect(r.stderr).toContain('--mode timed');
  });

  it('prints a table of delay and allocation', async () => {
    const r = await simulate('--mode', 'timed');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('fragmentation-aware');
    expect(r.stdout).toContain('queue delay p99');
  });

  it('refuses a trace without times, naming the file', async () => {
    const r = await tessera('simulate', '--nodes', NODES, '--pods', UNTIMED, '--mode', 'timed');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('TESSERA_E_INVALID_TRACE');
    expect(r.stderr).toContain(UNTIMED);
    expect(r.stdout).toBe('');
  });

  it('refuses several seeds: timed mode is deterministic but for the random policy', async () => {
    const r = await simulate('--mode', 'timed', '--seeds', '42-51');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--seeds');
    expect(r.stderr).toContain('one seed');
  });
});

describe('tessera simulate errors', () => {
  it('rejects an unknown policy with exit 2, listing the accepted policies', async () => {
    const r = await simulate('--policy', 'best-ever');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--policy');
    expect(r.stderr).toContain('best-ever');
    for (const name of POLICY_NAMES) expect(r.stderr).toContain(name);
    expect(r.stdout).toBe('');
  });

  it('names the flag and the path of a missing file, without a stack trace', async () => {
    const r = await tessera('simulate', '--nodes', '/no/such/nodes.csv', '--pods', PODS);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--nodes '/no/such/nodes.csv' cannot be read: no such file");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it.each([
    [['--seeds', '51-42'], '--seeds'],
    [['--seeds', 'x'], '--seeds'],
    [['--seed', '1-3'], '--seed'],
    [['--mode', 'replay'], 'fill, timed'],
    [['-o', 'yaml'], 'table, json'],
    [['--seed', '1', '--seeds', '2'], '--seeds'],
  ])('rejects %j with exit 2 naming %s', async (args, expected) => {
    const r = await simulate(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(expected);
  });

  it('requires --nodes and --pods', async () => {
    const r = await tessera('simulate', '--pods', PODS);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--nodes');
  });
});

describe('tessera simulate as a process', () => {
  it('runs as a process through bin/tessera.js with the same exit codes', () => {
    const r = spawnSync(
      process.execPath,
      [BIN, 'simulate', '--nodes', NODES, '--pods', PODS, '--policy', 'nope'],
      {
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('TESSERA_E_INVALID_CONFIG');
    const ok = spawnSync(
      process.execPath,
      [BIN, 'simulate', '--nodes', NODES, '--pods', PODS, '-o', 'json'],
      {
        encoding: 'utf8',
      },
    );
    expect(ok.status).toBe(0);
    expect(ok.stderr).toBe('');
    expect(JSON.parse(ok.stdout.trim()).policy).toBe('fragmentation-aware');
  });
});
