import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patchSimGpu, SIM_TOOLS } from '../../../../agent/gpu/sim/spec.ts';
import { until } from '../../../helpers/wait.ts';
import { makeSimNode, type SimNode, smi, startWorkload, type Workload } from './helpers.ts';
import { readTranscript, rowShape } from './transcript.ts';

const here = path.dirname(new URL(import.meta.url).pathname);
const real = readTranscript(path.join(here, 'fixtures', 'nvidia-smi-cli_1xH200_driver580.txt'));
const capturedRun = (command: string) => {
  const run = real.findLast((r) => r.command === command);
  if (run === undefined) throw new Error(`no captured run of ${command}`);
  return run;
};

/** Every element path (and attribute) in a document; repeated elements count once. */
function elementPaths(xml: string): Set<string> {
  const doc: unknown = new XMLParser({ ignoreAttributes: false }).parse(xml);
  const paths = new Set<string>();
  const walk = (node: unknown, at: string) => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item, at);
    } else if (node !== null && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        paths.add(`${at}/${key}`);
        walk(value, `${at}/${key}`);
      }
    }
  };
  walk(doc, '');
  return paths;
}

interface XmlGpu {
  uuid: string;
  fb_memory_usage: { total: string; reserved: string; used: string; free: string };
  processes: '' | { process_info: XmlProcess | XmlProcess[] };
}
interface XmlProcess {
  pid: number;
  process_name: string;
  used_memory: string;
}
function parseGpus(xml: string): XmlGpu[] {
  const doc = new XMLParser().parse(xml) as { nvidia_smi_log: { gpu: XmlGpu | XmlGpu[] } };
  const gpus = doc.nvidia_smi_log.gpu;
  return Array.isArray(gpus) ? gpus : [gpus];
}

// Stateless invocations: run concurrently, most of their time is process start-up.
describe.concurrent('sim nvidia-smi on one H200, against the real tool on one H200', () => {
  let node: SimNode;
  beforeAll(async () => {
    node = await makeSimNode('1xH200-141GB');
  });
  afterAll(() => node.close());

  it.each([
    '--version',
    '--foo',
    '-x',
    '-L -q',
    '--format=csv',
    '--query-gpu=foo --format=csv',
    '--query-gpu=index --format=xml',
    '--query-compute-apps=foo --format=csv',
    '--query-gpu=index',
  ])('nvidia-smi %s prints what driver 580 prints, with its exit code', async (command) => {
    const want = capturedRun(`nvidia-smi ${command}`);
    const got = await smi(node, ...want.args);
    expect({ exitCode: got.exitCode, stdout: got.stdout, stderr: got.stderr }).toEqual({
      exitCode: want.exitCode,
      stdout: want.stdout,
      stderr: want.stderr,
    });
  });

  it.each(['csv', 'csv,noheader', 'csv,nounits'])(
    '--query-gpu with --format=%s has the real header and cell shapes',
    async (format) => {
      const fields =
        'index,uuid,name,utilization.gpu,memory.used,memory.total,memory.reserved,temperature.gpu,power.draw,driver_version';
      const want = capturedRun(`nvidia-smi --query-gpu=${fields} --format=${format}`).stdout.split('\n');
      const got = (await smi(node, `--query-gpu=${fields}`, `--format=${format}`)).stdout.split('\n');
      expect(got).toHaveLength(want.length);
      if (!format.includes('noheader')) expect(got[0]).toBe(want[0]);
      const row = format.includes('noheader') ? 0 : 1;
      expect(rowShape(got[row]!)).toEqual(rowShape(want[row]!));
    },
  );

  it('-L prints the real line format', async () => {
    const want = capturedRun('nvidia-smi -L').stdout;
    const got = (await smi(node, '-L')).stdout;
    expect(got.replace(/GPU-[0-9a-f-]+/, 'UUID')).toBe(want.replace(/GPU-[0-9a-f-]+/, 'UUID'));
  });

  it('-q -x is valid XML with exactly the elements of the real v13 capture, idle', async () => {
    const idle = (await smi(node, '-q', '-x')).stdout;
    expect(XMLValidator.validate(idle)).toBe(true);
    const realIdle = readFileSync(
      path.join(here, '../../../fixtures/nvidia/smi-q-x_1xH200_driver580.xml'),
      'utf8',
    );
    expect([...elementPaths(idle)].sort()).toEqual([...elementPaths(realIdle)].sort());
  });
});

// Its own node: a process holds memory here, which the tests above must not see.
describe('sim nvidia-smi on one H200 with a process, against the real tool in the same state', () => {
  let node: SimNode;
  let w: Workload;
  beforeAll(async () => {
    node = await makeSimNode('1xH200-141GB');
    w = await startWorkload(node, ['--mib', '1542', '--name', 'python3']);
  });
  afterAll(() => node.close());

  it('-q -x has exactly the elements of the real capture, process_info included', async () => {
    const busy = (await smi(node, '-q', '-x')).stdout;
    expect(XMLValidator.validate(busy)).toBe(true);
    const realBusy = readFileSync(path.join(here, 'fixtures', 'smi-q-x_1xH200_driver580_1proc.xml'), 'utf8');
    expect([...elementPaths(busy)].sort()).toEqual([...elementPaths(realBusy)].sort());
  });

  it.each(['csv', 'csv,noheader,nounits'])(
    '--query-compute-apps --format=%s prints what driver 580 prints',
    async (format) => {
      const query = '--query-compute-apps=gpu_uuid,pid,used_memory,process_name';
      const want = capturedRun(`nvidia-smi ${query} --format=${format}`).stdout;
      const got = (await smi(node, query, `--format=${format}`)).stdout;
      expect(got.replace(/GPU-[0-9a-f-]+/, 'UUID').replace(String(w.pid), 'PID')).toBe(
        want.replace(/GPU-[0-9a-f-]+/, 'UUID').replace('577', 'PID'),
      );
    },
  );
});

describe('sim nvidia-smi over live registrations', () => {
  let node: SimNode;
  let w: Workload;
  beforeAll(async () => {
    node = await makeSimNode('2xH100-80GB');
    // On the second GPU, chosen by UUID as the runner will.
    w = await startWorkload(node, ['--mib', '3000', '--util', '60'], {
      CUDA_VISIBLE_DEVICES: node.state.gpus[1]!.uuid,
    });
  });
  afterAll(() => node.close());

  it('-q -x reports used = what the process registered, and free = total - reserved - used', async () => {
    const gpus = parseGpus((await smi(node, '-q', '-x')).stdout);
    expect(gpus.map((g) => g.uuid)).toEqual(node.state.gpus.map((g) => g.uuid));
    expect(gpus[0]!.fb_memory_usage).toEqual({
      total: '81559 MiB',
      reserved: '479 MiB',
      used: '0 MiB',
      free: '81080 MiB',
    });
    expect(gpus[1]!.fb_memory_usage).toEqual({
      total: '81559 MiB',
      reserved: '479 MiB',
      used: '3000 MiB',
      free: '78080 MiB',
    });
    expect(gpus[0]!.processes).toBe('');
    expect(gpus[1]!.processes).toEqual({
      process_info: expect.objectContaining({ pid: w.pid, used_memory: '3000 MiB', type: 'C' }),
    });
  });

  it('--query-gpu rows per GPU reflect the registrations, with and without units', async () => {
    const fields = '--query-gpu=index,uuid,memory.used,memory.total,memory.reserved,utilization.gpu';
    const plain = await smi(node, fields, '--format=csv,noheader,nounits');
    expect(plain.stdout).toBe(
      `0, ${node.state.gpus[0]!.uuid}, 0, 81559, 479, 0\n1, ${node.state.gpus[1]!.uuid}, 3000, 81559, 479, 60\n`,
    );
    const units = await smi(
      node,
      '--query-gpu=memory.used,utilization.gpu,power.draw,temperature.gpu',
      '--format=csv',
    );
    expect(units.stdout.split('\n')[0]).toBe(
      'memory.used [MiB], utilization.gpu [%], power.draw [W], temperature.gpu',
    );
    expect(units.stdout.split('\n')[2]).toMatch(/^3000 MiB, 60 %, \d+\.\d\d W, \d+$/);
  });

  it('knows the agent-side fields and aliases, and prints [N/A] where an H100 has no reading', async () => {
    const r = await smi(
      node,
      '--query-gpu=gpu_name,driver_version,ecc.errors.uncorrected.volatile.total,clocks_throttle_reasons.active,mig.mode.current,fan.speed',
      '--format=csv',
      '-i',
      '0',
    );
    expect(r.stdout).toBe(
      'name, driver_version, ecc.errors.uncorrected.volatile.total, clocks_event_reasons.active, mig.mode.current, fan.speed [%]\n' +
        'NVIDIA H100 80GB HBM3, 580.159.04, 0, 0x0000000000000001, Disabled, [N/A]\n',
    );
  });

  it('-i selects GPUs by index or UUID; an unknown one is "No devices were found", exit 6', async () => {
    const byUuid = await smi(
      node,
      '--query-gpu=index',
      '--format=csv,noheader',
      '-i',
      node.state.gpus[1]!.uuid,
    );
    expect(byUuid.stdout).toBe('1\n');
    const none = await smi(node, '-L', '-i', '7');
    expect([none.exitCode, none.stdout]).toEqual([6, 'No devices were found\n']);
  });

  it('-lms streams the header once, then a block of rows per interval, until killed', async () => {
    const stream = execa(
      SIM_TOOLS.nvidiaSmi,
      ['--query-gpu=index,memory.used', '--format=csv', '-lms', '50'],
      {
        env: node.env,
        reject: false,
      },
    );
    let out = '';
    stream.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    await until(() => out.split('\n').length > 9, 'four blocks of two rows', 5000);
    stream.kill('SIGTERM');
    const result = await stream;
    expect(result.signal).toBe('SIGTERM');
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toBe('index, memory.used [MiB]');
    expect(lines.filter((l) => l.startsWith('index'))).toHaveLength(1);
    expect(lines.slice(1, 9)).toEqual([
      '0, 0 MiB',
      '1, 3000 MiB',
      '0, 0 MiB',
      '1, 3000 MiB',
      '0, 0 MiB',
      '1, 3000 MiB',
      '0, 0 MiB',
      '1, 3000 MiB',
    ]);
  });

  it('a stream sees processes come and go between blocks', async () => {
    const stream = execa(
      SIM_TOOLS.nvidiaSmi,
      ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits', '-lms', '30'],
      {
        env: node.env,
        reject: false,
      },
    );
    let out = '';
    stream.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const extra = await startWorkload(node, ['--mib', '100'], { CUDA_VISIBLE_DEVICES: '0' });
    await until(() => out.includes(`${extra.pid}, 100`), 'the new process in the stream', 5000);
    extra.proc.kill();
    await extra.proc;
    const mark = out.length;
    await until(
      () =>
        out
          .slice(mark)
          .split('\n')
          .filter((l) => l === `${w.pid}, 3000`).length >= 2,
      'two more blocks',
      5000,
    );
    stream.kill();
    expect(out.slice(mark).split('\n').slice(1).join('\n')).not.toContain(`${extra.pid},`);
  });

  it('a stream sees a GPU turn hot and throttle when gpus.json changes (fault injection)', async () => {
    const stream = execa(
      SIM_TOOLS.nvidiaSmi,
      [
        '--query-gpu=temperature.gpu,clocks_event_reasons.hw_thermal_slowdown',
        '--format=csv,noheader',
        '-i',
        '0',
        '-lms',
        '30',
      ],
      { env: node.env, reject: false },
    );
    let out = '';
    stream.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    await until(() => out.includes('34, Not Active\n'), 'the idle reading', 5000);
    await patchSimGpu(node.dir, 0, { temperatureC: 91, throttleReasons: ['hw_thermal_slowdown'] });
    await until(() => out.includes('91, Active\n'), 'the hot reading', 5000);
    stream.kill();
    await patchSimGpu(node.dir, 0, { temperatureC: 34, throttleReasons: [] });
  });

  it('ignores a dead process registration, as the driver frees a dead process memory', async () => {
    // Above the largest pid_max Linux allows (2^22): no process has it.
    const gone = 4194305;
    await writeFile(
      path.join(node.dir, 'procs', `${gone}.json`),
      JSON.stringify({
        ...(await w.registration()),
        pid: gone,
        startTicks: null,
        gpuUuid: node.state.gpus[0]!.uuid,
      }),
    );
    const gpus = parseGpus((await smi(node, '-q', '-x')).stdout);
    expect(gpus[0]!.fb_memory_usage.used).toBe('0 MiB');
    expect(gpus[0]!.processes).toBe('');
  });

  it('a stopped (SIGSTOP) process keeps its memory but adds no utilization', async () => {
    process.kill(w.pid, 'SIGSTOP');
    try {
      await until(
        async () =>
          (await smi(node, '--query-gpu=utilization.gpu', '--format=csv,noheader,nounits', '-i', '1'))
            .stdout === '0\n',
        'utilization 0 while stopped',
        5000,
      );
      const mem = await smi(node, '--query-gpu=memory.used', '--format=csv,noheader,nounits', '-i', '1');
      expect(mem.stdout).toBe('3000\n');
    } finally {
      process.kill(w.pid, 'SIGCONT');
    }
  });

  it('without a state directory it fails as nvidia-smi does without a driver (exit 9)', async () => {
    const r = await smi({ env: { TESSERA_SIM_STATE: path.join(node.dir, 'missing') } }, '-L');
    expect(r.exitCode).toBe(9);
    expect(r.stdout).toContain(
      "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver",
    );
  });

  it('rejects two --query-* switches at once, as the real tool takes one per process', async () => {
    const r = await smi(node, '--query-gpu=index', '--query-compute-apps=pid', '--format=csv');
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toContain('Invalid combination of input arguments');
  });
});
