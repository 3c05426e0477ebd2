#!/usr/bin/env node
// The sim's test workload: a process that "uses" a GPU by registering memory and utilization in the
// state directory ($TESSERA_SIM_STATE), the way a CUDA process holds memory on a real one. It keeps a
// small "GPU buffer" in a file that cuda-checkpoint moves to host memory and back, checks it on every
// GPU step, and blocks its GPU steps while locked or checkpointed, as the real driver does.
// Options and output lines: README.md. Plain JS so it starts in milliseconds.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import {
  devicePath,
  freeMemoryMiB,
  hostPath,
  liveRegistrations,
  ownKey,
  pidNamespace,
  procStat,
  readGpus,
  readJson,
  registrationPath,
  stateDirFromEnv,
  withAllocLock,
  withProcessLock,
  writeFileAtomic,
  writeJsonAtomic,
} from './state.mjs';

// Exit codes, distinct so tests and logs can tell the failures apart.
const EXIT_NO_DEVICE = 1;
const EXIT_OOM = 2;
const EXIT_DATA_CORRUPTED = 3;

/** Every option, with its default; each may also come from TESSERA_WORKLOAD_<NAME> (e.g. _MIB). */
const OPTIONS = {
  gpu: { type: 'string', default: '' }, // UUID or index; default: the first of CUDA_VISIBLE_DEVICES, else 0
  mib: { type: 'string', default: '1024' }, // GPU memory taken at start
  'grow-mib-per-s': { type: 'string', default: '0' }, // growth per second of GPU work
  'max-mib': { type: 'string', default: '0' }, // growth stops here; 0 = grows until the GPU is full
  util: { type: 'string', default: '100' }, // GPU utilization % while running
  cpu: { type: 'string', default: 'idle' }, // busy: spins a core during each step; idle: sleeps
  'step-ms': { type: 'string', default: '100' }, // one GPU step per interval
  'duration-ms': { type: 'string', default: '0' }, // wall-clock run time; 0 = until killed
  steps: { type: 'string', default: '0' }, // GPU steps to run; 0 = until killed
  'exit-code': { type: 'string', default: '0' }, // exit status when done
  name: { type: 'string', default: '' }, // process name nvidia-smi shows; default argv[0], as the driver does
  'buffer-kib': { type: 'string', default: '16' }, // size of the checked "GPU buffer"
};

function readOptions() {
  let values;
  try {
    ({ values } = parseArgs({
      options: { ...OPTIONS, help: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    usage(e.message);
  }
  if (values.help) {
    const lines = Object.entries(OPTIONS).map(
      ([key, o]) => `  --${key} (default ${o.default === '' ? 'see README' : o.default})`,
    );
    process.stdout.write(
      `usage: workload.mjs [options]; also TESSERA_WORKLOAD_<OPTION> in the environment\n${lines.join('\n')}\n`,
    );
    process.exit(0);
  }
  const get = (key) => {
    const env = process.env[`TESSERA_WORKLOAD_${key.toUpperCase().replaceAll('-', '_')}`];
    return process.argv.some((a) => a === `--${key}` || a.startsWith(`--${key}=`))
      ? values[key]
      : (env ?? OPTIONS[key].default);
  };
  const num = (key) => {
    const n = Number(get(key));
    if (!Number.isFinite(n) || n < 0) usage(`--${key} must be a non-negative number, got '${get(key)}'`);
    return n;
  };
  const cpu = get('cpu');
  if (cpu !== 'busy' && cpu !== 'idle') usage(`--cpu must be busy or idle, got '${cpu}'`);
  return {
    gpu: get('gpu'),
    mib: Math.floor(num('mib')),
    growMiBPerS: num('grow-mib-per-s'),
    maxMiB: num('max-mib') || Number.POSITIVE_INFINITY,
    utilizationPct: Math.min(100, num('util')),
    busy: cpu === 'busy',
    stepMs: Math.max(1, num('step-ms')),
    durationMs: num('duration-ms'),
    steps: num('steps'),
    exitCode: Math.floor(num('exit-code')),
    name: get('name') || process.argv0,
    bufferBytes: Math.max(1, Math.floor(num('buffer-kib') * 1024)),
  };
}

function usage(message) {
  process.stderr.write(`workload: ${message}\n`);
  process.exit(64);
}

/** Ends the process with `code`: thrown, so locks held by the caller are released on the way out. */
class Exit extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}
function fail(code, message) {
  throw new Exit(code, message);
}

/** The GPU the process would see as device 0: CUDA_VISIBLE_DEVICES' first entry, by index or UUID prefix. */
function pickGpu(gpus, wanted) {
  const visible = process.env.CUDA_VISIBLE_DEVICES;
  const first = wanted !== '' ? wanted : visible === undefined ? '0' : visible.split(',')[0].trim();
  if (/^\d+$/.test(first)) return gpus.find((g) => g.index === Number(first)) ?? null;
  if (first.startsWith('GPU-')) {
    const matches = gpus.filter((g) => g.uuid.startsWith(first));
    return matches.length === 1 ? matches[0] : null;
  }
  return null;
}

const sha = (data) => crypto.createHash('sha256').update(data).digest('hex');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const opts = readOptions();
const pid = process.pid;
const dir = stateDirFromEnv();
// Its pid where it shares the agent's pid namespace; in a container, namespace and pid together
// (every container has a pid 1).
const key = dir === null ? String(pid) : ownKey(dir);
const pidNs = pidNamespace();
const state = dir === null ? null : readGpus(dir);
let registered = false;

/** Removes what the process put in the state directory; the fakes ignore dead pids in any case. */
function cleanup() {
  if (!registered) return;
  registered = false;
  for (const file of [registrationPath(dir, key), devicePath(dir, key), hostPath(dir, key)]) {
    fs.rmSync(file, { force: true });
  }
}

/** Registers the process and its buffer, failing as cudaMalloc would when the GPU lacks the memory. */
function register(gpu, buffer, expected) {
  withAllocLock(dir, () => {
    const free = freeMemoryMiB(gpu, liveRegistrations(dir), pid);
    if (opts.mib > free) {
      fail(
        EXIT_OOM,
        `CUDA error: out of memory (tried to allocate ${opts.mib} MiB on ${gpu.uuid}; ${free} MiB free)`,
      );
    }
    registered = true;
    writeFileAtomic(devicePath(dir, key), buffer);
    writeJsonAtomic(registrationPath(dir, key), {
      pid,
      // What lets the host's nvidia-smi find this process when `pid` is a container's view of it.
      nsPid: pid,
      pidNs,
      startTicks: procStat(pid)?.startTicks ?? null,
      gpuUuid: gpu.uuid,
      name: opts.name,
      usedMemoryMiB: opts.mib,
      utilizationPct: opts.utilizationPct,
      cudaState: 'running',
      checkpointed: false,
      hostMemoryMiB: 0,
      restoreCount: 0,
      steps: 0,
      dataChecksum: expected,
      updatedAtMs: Date.now(),
    });
  });
}

/**
 * One GPU step under the process lock, so a swap never lands in the middle of it: checks the buffer
 * is what the last step left, changes it, grows memory when asked. Returns what it saw.
 */
function gpuStep(gpu, steps, expected) {
  return withProcessLock(dir, key, 10_000, () => {
    const reg = readJson(registrationPath(dir, key));
    if (reg === null) fail(1, 'workload: registration lost');
    if (reg.cudaState !== 'running') return { blocked: reg.cudaState };
    let data = null;
    try {
      data = fs.readFileSync(devicePath(dir, key));
    } catch {
      // Missing: reported as corruption below.
    }
    const got = data === null ? 'missing' : sha(data);
    if (got !== expected) {
      fail(
        EXIT_DATA_CORRUPTED,
        `DATA CORRUPTED: GPU buffer checksum ${got.slice(0, 12)}, expected ${expected.slice(0, 12)}, after ${
          reg.restoreCount
        } restore(s)`,
      );
    }
    // Each step changes the buffer, as training changes its weights: a restore must bring back the latest.
    data[steps % data.length] ^= (steps & 0xff) | 1;
    const checksum = sha(data);
    const next = { ...reg, steps: steps + 1, dataChecksum: checksum, updatedAtMs: Date.now() };
    const commit = () => {
      writeFileAtomic(devicePath(dir, key), data);
      writeJsonAtomic(registrationPath(dir, key), next);
    };
    // Growth follows GPU work done, not wall time: a blocked process does not grow.
    const wantMiB = Math.floor(
      Math.min(opts.maxMiB, opts.mib + (opts.growMiBPerS * (steps + 1) * opts.stepMs) / 1000),
    );
    if (wantMiB > reg.usedMemoryMiB) {
      withAllocLock(dir, () => {
        const free = freeMemoryMiB(gpu, liveRegistrations(dir), pid);
        if (wantMiB > free) {
          fail(
            EXIT_OOM,
            `CUDA error: out of memory (tried to allocate ${wantMiB} MiB on ${gpu.uuid}; ${free} MiB free)`,
          );
        }
        next.usedMemoryMiB = wantMiB;
        commit();
      });
    } else {
      commit();
    }
    return { checksum, restoreCount: reg.restoreCount };
  });
}

async function main() {
  const gpu = state === null ? null : pickGpu(state.gpus, opts.gpu);
  if (gpu === null) fail(EXIT_NO_DEVICE, 'CUDA error: no CUDA-capable device is detected');
  // The buffer's initial content depends on the pid, so two workloads never hold the same bytes.
  const buffer = Buffer.alloc(opts.bufferBytes);
  for (let i = 0; i < buffer.length; i++) buffer[i] = (i * 31 + pid) & 0xff;
  let expected = sha(buffer);
  register(gpu, buffer, expected);
  process.stdout.write(`READY pid=${pid} gpu=${gpu.uuid} mib=${opts.mib}\n`);

  const startedMs = Date.now();
  const pollMs = Math.min(10, opts.stepMs);
  let steps = 0;
  let restoresSeen = 0;
  let blockedSinceMs = null;
  for (;;) {
    if (opts.durationMs > 0 && Date.now() - startedMs >= opts.durationMs) break;
    if (opts.steps > 0 && steps >= opts.steps) break;
    // A locked or checkpointed process's next CUDA call waits in the driver: poll until running again.
    const seen = readJson(registrationPath(dir, key));
    const outcome =
      seen !== null && seen.cudaState !== 'running'
        ? { blocked: seen.cudaState }
        : gpuStep(gpu, steps, expected);
    if (outcome.blocked !== undefined) {
      if (blockedSinceMs === null) {
        blockedSinceMs = Date.now();
        process.stdout.write(`BLOCKED state=${outcome.blocked} steps=${steps}\n`);
      }
      await sleep(pollMs);
      continue;
    }
    expected = outcome.checksum;
    if (blockedSinceMs !== null) {
      process.stdout.write(`RESUMED after ${Date.now() - blockedSinceMs} ms\n`);
      blockedSinceMs = null;
    }
    if (outcome.restoreCount !== restoresSeen) {
      restoresSeen = outcome.restoreCount;
      process.stdout.write(`RESTORED restores=${restoresSeen} data=ok checksum=${expected.slice(0, 12)}\n`);
    }
    steps++;
    if (opts.busy) {
      // Busy: burn the CPU for the step, so time-slicing can be measured from the process's CPU time.
      const until = Date.now() + opts.stepMs;
      while (Date.now() < until) {
        // spin
      }
      await sleep(0);
    } else {
      await sleep(opts.stepMs);
    }
  }
  process.stdout.write(`DONE steps=${steps} exit=${opts.exitCode}\n`);
  return opts.exitCode;
}

// Leave by a signal as the signal, so a runner sees SIGTERM, not an exit code, after cleaning up.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.once(signal, () => {
    cleanup();
    process.kill(pid, signal);
  });
}
process.on('exit', cleanup);

try {
  process.exitCode = await main();
} catch (e) {
  if (!(e instanceof Exit)) throw e;
  process.stderr.write(`${e.message}\n`);
  process.exitCode = e.code;
}
cleanup();
