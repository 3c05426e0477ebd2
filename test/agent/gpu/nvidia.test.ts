/**
 * The nvidia driver's process handling, run for real against tiny fake `nvidia-smi` and
 * `cuda-checkpoint` shell scripts in a temp directory: what they print is what the real tools print.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuSample, SampleStream } from '../../../agent/gpu/driver.ts';
import {
  CUDA_CHECKPOINT_MISSING,
  createNvidiaDriver,
  NVIDIA_SMI_MISSING,
} from '../../../agent/gpu/nvidia.ts';
import { nextBackoffMs } from '../../../agent/gpu/tool-process.ts';
import type { TesseraError } from '../../../common/errors.ts';
import { until } from '../../helpers/wait.ts';

const PUBLIC = new URL('../../fixtures/nvidia/public/', import.meta.url);
const HANDMADE = new URL('../../fixtures/nvidia/handmade/', import.meta.url);

/** A fake nvidia-smi: -q -x prints $FAKE_XML; the query streams print a round every $FAKE_SLEEP s. */
const FAKE_SMI = `#!/bin/sh
echo "$$ $*" >> "$FAKE_DIR/smi-starts.log"
case "$1" in
  -q)
    if [ -n "$FAKE_FAIL" ]; then
      echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."; exit 9
    fi
    if [ -n "$FAKE_HANG" ]; then exec sleep 5; fi
    cat "$FAKE_XML" ;;
  --query-gpu=*)
    if [ -n "$FAKE_BAD_LINE" ]; then echo "0, GPU-aaaa, lots"; fi
    n=0
    while :; do
      echo "1, GPU-bbbb, 20, 200, 81559, 41, 71.5"
      echo "0, GPU-aaaa, 10, 100, 81559, 40, 70.5"
      n=$((n + 1))
      if [ -n "$FAKE_GPU_ROUNDS" ] && [ "$n" -ge "$FAKE_GPU_ROUNDS" ]; then
        echo "Unable to determine the device handle for GPU0000:18:00.0: GPU is lost." >&2; exit 3
      fi
      sleep "$FAKE_SLEEP"
    done ;;
  --query-compute-apps=*)
    while :; do echo "GPU-aaaa, 4242, 1234"; sleep "$FAKE_SLEEP"; done ;;
esac
`;

/**
 * A fake cuda-checkpoint: --help prints $FAKE_HELP; --action fails for $FAKE_FAIL_ACTION; --get-state
 * prints $FAKE_STATE, or fails as r550's tool (which has no such option) when it is unset.
 */
const FAKE_CHECKPOINT = `#!/bin/sh
echo "$*" >> "$FAKE_DIR/cc.log"
case "$1" in
  --help) cat "$FAKE_HELP" ;;
  --get-state)
    if [ -z "$FAKE_STATE" ]; then echo "unrecognized option '--get-state'" >&2; exit 1; fi
    echo "$FAKE_STATE" ;;
  --action)
    if [ "$2" = "$FAKE_FAIL_ACTION" ]; then
      echo "Could not $2 process $4: CUDA_ERROR_NOT_SUPPORTED" >&2; exit 1
    fi ;;
esac
`;

let dir: string;
let smi: string;
let checkpointTool: string;
let emptyDir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-nvidia-'));
  emptyDir = mkdtempSync(join(tmpdir(), 'tessera-empty-path-'));
  smi = join(dir, 'nvidia-smi');
  checkpointTool = join(dir, 'cuda-checkpoint');
  writeFileSync(smi, FAKE_SMI);
  writeFileSync(checkpointTool, FAKE_CHECKPOINT);
  chmodSync(smi, 0o755);
  chmodSync(checkpointTool, 0o755);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(emptyDir, { recursive: true, force: true });
});

/** A fresh log directory per test, so each reads only its own starts. */
function fakeEnv(extra: Record<string, string> = {}): Record<string, string> {
  const logs = mkdtempSync(join(dir, 'run-'));
  return { FAKE_DIR: logs, FAKE_SLEEP: '0.02', ...extra };
}

function logLines(env: Record<string, string>, name: string): string[] {
  try {
    return readFileSync(join(env.FAKE_DIR ?? '', name), 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean);
  } catch {
    return [];
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('createNvidiaDriver: discover', () => {
  it('runs nvidia-smi -q -x and parses what it prints', async () => {
    const xml = fileURLToPath(new URL('smi-q-x_8xH100-80GB-HBM3_driver580_processes.xml', HANDMADE));
    const env = fakeEnv({ FAKE_XML: xml });
    const r = await createNvidiaDriver({ nvidiaSmi: smi, env }).discover();
    expect(r.ok && r.value.gpus.length).toBe(8);
    expect(logLines(env, 'smi-starts.log')[0]).toMatch(/^\d+ -q -x$/);
  });

  it('says how to get nvidia-smi when it is not on PATH', async () => {
    const r = await createNvidiaDriver({ env: { PATH: emptyDir } }).discover();
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('TESSERA_E_GPU_DRIVER');
      expect(r.error.message).toBe(NVIDIA_SMI_MISSING);
      expect(r.error.message).toBe('nvidia-smi not found: install the NVIDIA driver, or run with --gpu sim');
    }
  });

  it('names the path it looked at when a configured nvidia-smi is missing', async () => {
    const r = await createNvidiaDriver({ nvidiaSmi: join(emptyDir, 'nvidia-smi') }).discover();
    expect(!r.ok && r.error.message).toBe(
      `${NVIDIA_SMI_MISSING} (looked for ${join(emptyDir, 'nvidia-smi')})`,
    );
  });

  it('reports the exit code and what nvidia-smi said when it fails', async () => {
    const r = await createNvidiaDriver({ nvidiaSmi: smi, env: fakeEnv({ FAKE_FAIL: '1' }) }).discover();
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.message).toContain('exited with code 9');
      expect(r.error.message).toContain("couldn't communicate with the NVIDIA driver");
      expect(r.error.context?.exitCode).toBe(9);
    }
  });

  it('gives up on a hung nvidia-smi after the command timeout', async () => {
    const driver = createNvidiaDriver({
      nvidiaSmi: smi,
      env: fakeEnv({ FAKE_HANG: '1' }),
      commandTimeoutMs: 100,
    });
    const r = await driver.discover();
    expect(!r.ok && r.error.message).toContain('did not answer within 100 ms');
  });

  it('reports output that is not the XML it expects', async () => {
    const notXml = join(dir, 'not.xml');
    writeFileSync(notXml, 'No devices were found\n');
    const r = await createNvidiaDriver({ nvidiaSmi: smi, env: fakeEnv({ FAKE_XML: notXml }) }).discover();
    expect(r.ok).toBe(false);
  });

  it("is kind 'nvidia' unless told it drives the sim's fakes", () => {
    expect(createNvidiaDriver().kind).toBe('nvidia');
    expect(createNvidiaDriver({ kind: 'sim' }).kind).toBe('sim');
  });
});

describe('createNvidiaDriver: sample', () => {
  it('runs one long-lived process per stream and delivers a sample per round with the processes', async () => {
    const env = fakeEnv({ FAKE_SLEEP: '0.2' });
    const samples: GpuSample[] = [];
    const errors: TesseraError[] = [];
    const stream = createNvidiaDriver({ nvidiaSmi: smi, env }).sample(200, {
      onSample: (s) => samples.push(s),
      onError: (e) => errors.push(e),
    });
    // A loaded machine may split a round or delay a process line past its freshness (two intervals), so
    // this waits for whole samples rather than counting them after a fixed number of rounds.
    const whole = () => samples.filter((s) => s.gpus.length === 2 && s.processes.length === 1);
    try {
      await until(() => whole().length >= 2, '2 whole samples', 15_000);
    } finally {
      await stream.stop();
    }
    expect(errors).toEqual([]);
    const starts = logLines(env, 'smi-starts.log');
    expect(starts).toHaveLength(2);
    expect(starts.join('\n')).toContain(
      '--query-gpu=index,uuid,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw --format=csv,noheader,nounits -lms 200',
    );
    expect(starts.join('\n')).toContain(
      '--query-compute-apps=gpu_uuid,pid,used_memory --format=csv,noheader,nounits -lms 200',
    );
    expect(whole()[0]?.gpus.map((g) => [g.index, g.uuid, g.memoryUsedMiB])).toEqual([
      [0, 'GPU-aaaa', 100],
      [1, 'GPU-bbbb', 200],
    ]);
    expect(whole()[0]?.processes).toEqual([{ gpuUuid: 'GPU-aaaa', pid: 4242, usedMemoryMiB: 1234 }]);
    // stop() ended both processes.
    const pids = starts.map((l) => Number(l.split(' ')[0]));
    await until(() => pids.every((p) => !isAlive(p)), 'the streams to exit');
    const count = samples.length;
    await new Promise((r) => setTimeout(r, 250));
    expect(samples.length).toBe(count);
  });

  it('restarts a dead stream with exponential backoff and reports each death', async () => {
    const env = fakeEnv({ FAKE_GPU_ROUNDS: '2' });
    const samples: GpuSample[] = [];
    const errors: TesseraError[] = [];
    // A clock that never moves: no run looks long enough to count as healthy and reset the series.
    const driver = createNvidiaDriver({
      nvidiaSmi: smi,
      env,
      now: () => 0,
      restartBackoff: { initialMs: 10, maxMs: 80 },
    });
    const stream = driver.sample(20, { onSample: (s) => samples.push(s), onError: (e) => errors.push(e) });
    try {
      await until(() => errors.length >= 5, '5 deaths');
    } finally {
      await stream.stop();
    }
    expect(errors.slice(0, 5).map((e) => e.context?.restartInMs)).toEqual([10, 20, 40, 80, 80]);
    expect(errors[0]?.message).toContain('nvidia-smi --query-gpu stream exited with code 3');
    expect(errors[0]?.message).toContain('GPU is lost');
    expect(errors[0]?.code).toBe('TESSERA_E_GPU_DRIVER');
    const starts = logLines(env, 'smi-starts.log');
    expect(starts.filter((l) => l.includes('--query-gpu')).length).toBeGreaterThanOrEqual(5);
    // The apps stream did not die, so it was never restarted.
    expect(starts.filter((l) => l.includes('--query-compute-apps'))).toHaveLength(1);
    expect(samples.length).toBeGreaterThanOrEqual(5);
  });

  it('starts the backoff over after a run that lasted', async () => {
    const env = fakeEnv({ FAKE_GPU_ROUNDS: '1' });
    const errors: TesseraError[] = [];
    let t = 0;
    // Every reading of this clock is a second later: each run looks long-lived.
    const tick = () => {
      t += 1000;
      return t;
    };
    const driver = createNvidiaDriver({
      nvidiaSmi: smi,
      env,
      now: tick,
      restartBackoff: { initialMs: 10, maxMs: 80 },
    });
    const stream = driver.sample(20, { onSample: () => {}, onError: (e) => errors.push(e) });
    try {
      await until(() => errors.length >= 3, '3 deaths');
    } finally {
      await stream.stop();
    }
    expect(errors.slice(0, 3).map((e) => e.context?.restartInMs)).toEqual([10, 10, 10]);
  });

  it('reports a line it cannot read and keeps sampling', async () => {
    const errors: TesseraError[] = [];
    let samples = 0;
    const stream = createNvidiaDriver({ nvidiaSmi: smi, env: fakeEnv({ FAKE_BAD_LINE: '1' }) }).sample(20, {
      onSample: () => samples++,
      onError: (e) => errors.push(e),
    });
    try {
      await until(() => samples >= 2, '2 samples');
    } finally {
      await stream.stop();
    }
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toContain('"0, GPU-aaaa, lots"');
  });

  it('reports a missing nvidia-smi through onError and stops cleanly', async () => {
    const errors: TesseraError[] = [];
    let stream: SampleStream | undefined;
    try {
      stream = createNvidiaDriver({
        env: { PATH: emptyDir },
        restartBackoff: { initialMs: 10, maxMs: 20 },
      }).sample(20, { onSample: () => {}, onError: (e) => errors.push(e) });
      await until(() => errors.length >= 2, '2 errors');
    } finally {
      await stream?.stop();
    }
    expect(errors[0]?.message).toContain(NVIDIA_SMI_MISSING);
  });
});

describe('createNvidiaDriver: swap', () => {
  const help570 = fileURLToPath(new URL('cuda-checkpoint-help_r570.86.10.txt', PUBLIC));
  const help550 = fileURLToPath(new URL('cuda-checkpoint-help_r550.54.09.txt', PUBLIC));

  it('finds swap support when cuda-checkpoint answers --help with its --action operations', async () => {
    const driver = createNvidiaDriver({
      cudaCheckpoint: checkpointTool,
      env: fakeEnv({ FAKE_HELP: help570 }),
    });
    expect(await driver.swapSupport()).toEqual({ ok: true, value: true });
  });

  it('refuses the r550 tool, which only toggles', async () => {
    const r = await createNvidiaDriver({
      cudaCheckpoint: checkpointTool,
      env: fakeEnv({ FAKE_HELP: help550 }),
    }).swapSupport();
    expect(!r.ok && r.error.message).toContain('r570');
  });

  it('says what to install when cuda-checkpoint is not on PATH', async () => {
    const r = await createNvidiaDriver({ env: { PATH: emptyDir } }).swapSupport();
    expect(!r.ok && r.error.message).toBe(CUDA_CHECKPOINT_MISSING);
    expect(CUDA_CHECKPOINT_MISSING).toBe(
      "cuda-checkpoint not found: GPU swap needs NVIDIA's cuda-checkpoint (driver r550+) on PATH",
    );
  });

  it('checkpoints with lock then checkpoint, and restores with restore then unlock', async () => {
    const env = fakeEnv();
    const driver = createNvidiaDriver({ cudaCheckpoint: checkpointTool, env });
    expect(await driver.checkpoint(1234)).toEqual({ ok: true, value: true });
    expect(await driver.restore(1234)).toEqual({ ok: true, value: true });
    expect(logLines(env, 'cc.log')).toEqual([
      '--action lock --pid 1234',
      '--action checkpoint --pid 1234',
      '--action restore --pid 1234',
      '--action unlock --pid 1234',
    ]);
  });

  it('unlocks the process again when the checkpoint fails, and the error carries stderr', async () => {
    const env = fakeEnv({ FAKE_FAIL_ACTION: 'checkpoint' });
    const r = await createNvidiaDriver({ cudaCheckpoint: checkpointTool, env }).checkpoint(77);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.message).toContain('cuda-checkpoint --action checkpoint --pid 77 exited with code 1');
      expect(r.error.message).toContain('CUDA_ERROR_NOT_SUPPORTED');
      expect(r.error.context).toMatchObject({ pid: 77, action: 'checkpoint', unlockedAfterFailure: true });
    }
    expect(logLines(env, 'cc.log')).toEqual([
      '--action lock --pid 77',
      '--action checkpoint --pid 77',
      '--action unlock --pid 77',
    ]);
  });

  it('does not checkpoint a process it could not lock, nor unlock one it could not restore', async () => {
    const lockEnv = fakeEnv({ FAKE_FAIL_ACTION: 'lock' });
    const locked = await createNvidiaDriver({ cudaCheckpoint: checkpointTool, env: lockEnv }).checkpoint(5);
    expect(!locked.ok && locked.error.context?.action).toBe('lock');
    expect(logLines(lockEnv, 'cc.log')).toEqual(['--action lock --pid 5']);
    const restoreEnv = fakeEnv({ FAKE_FAIL_ACTION: 'restore' });
    const restored = await createNvidiaDriver({ cudaCheckpoint: checkpointTool, env: restoreEnv }).restore(5);
    expect(!restored.ok && restored.error.message).toContain('CUDA_ERROR_NOT_SUPPORTED');
    expect(logLines(restoreEnv, 'cc.log')).toEqual(['--action restore --pid 5']);
  });

  it("reads a process's checkpoint state, and says so when the tool cannot tell", async () => {
    const env = fakeEnv({ FAKE_STATE: 'checkpointed' });
    const driver = createNvidiaDriver({ cudaCheckpoint: checkpointTool, env });
    expect(await driver.checkpointState(42)).toEqual({ ok: true, value: 'checkpointed' });
    expect(logLines(env, 'cc.log')).toEqual(['--get-state --pid 42']);
    const old = await createNvidiaDriver({ cudaCheckpoint: checkpointTool, env: fakeEnv() }).checkpointState(
      42,
    );
    expect(!old.ok && old.error.message).toContain("unrecognized option '--get-state'");
    const odd = await createNvidiaDriver({
      cudaCheckpoint: checkpointTool,
      env: fakeEnv({ FAKE_STATE: 'sleepy' }),
    }).checkpointState(42);
    expect(!odd.ok && odd.error.message).toBe(
      'cuda-checkpoint --get-state --pid 42 printed "sleepy", not a checkpoint state',
    );
  });

  it('rejects a pid that is not one without running anything', async () => {
    const env = fakeEnv();
    const r = await createNvidiaDriver({ cudaCheckpoint: checkpointTool, env }).checkpoint(-1);
    expect(r.ok).toBe(false);
    expect(logLines(env, 'cc.log')).toEqual([]);
  });
});

describe('nextBackoffMs', () => {
  it('starts at initialMs, doubles, and stops at maxMs', () => {
    const opts = { initialMs: 500, maxMs: 10_000 };
    const seq: number[] = [];
    let prev: number | null = null;
    for (let i = 0; i < 7; i++) {
      prev = nextBackoffMs(prev, opts);
      seq.push(prev);
    }
    expect(seq).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
  });
});
