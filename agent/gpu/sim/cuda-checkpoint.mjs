// The sim's cuda-checkpoint: the r570 tool's flags and the driver's checkpoint state machine
// (running -> locked -> checkpointed -> locked -> running) over the registrations in
// $TESSERA_SIM_STATE. A checkpoint moves the process's GPU memory to host memory (its registration
// stops counting on the GPU and its buffer file moves aside); a restore brings both back.
// Started as `bin/cuda-checkpoint`. Messages follow the real tool's `Could not <action> on process ID
// <pid>: "<CUDA error string>"`; which CUDA error a dead or non-CUDA pid gets is modelled (README.md).
import fs from 'node:fs';
import { stderr, stdout } from 'node:process';
import {
  devicePath,
  freeMemoryMiB,
  hostPath,
  isAlive,
  isStopped,
  LockTimeoutError,
  liveRegistration,
  liveRegistrations,
  readGpus,
  registrationPath,
  sleepSync,
  stateDirFromEnv,
  withAllocLock,
  withProcessLock,
  writeJsonAtomic,
} from './state.mjs';

// The r570 help text, verbatim from NVIDIA's README (test/fixtures/nvidia/public/cuda-checkpoint-help_r570.86.10.txt).
const HELP = `CUDA checkpoint and restore utility.
Version 570.86.10. Copyright (C) 2025 NVIDIA Corporation. All rights reserved.

Operations:
--get-state --pid <pid>
        Prints the current checkpoint state of the process specified by <pid>

--action lock | checkpoint | restore | unlock --pid <pid> [--timeout <ms>]
        Performs the specified action on <pid>.
        For the lock action a timeout can be provided, the lock operation will wait up to <ms> milliseconds for the operation to succeed.

--toggle --pid <pid>
        Toggles the CUDA state in the specified process between the running and checkpointed states

--get-restore-tid --pid <pid>
        Retrieves the CUDA restore thread ID of the process specified by <pid>

Options:
--pid|-p <pid>
        The pid upon which to perform the operation

--timeout|-t <timeout>
        Optional timeout that can be specified for the lock action in milliseconds

--help|-h
        Print this help message
`;

// cuGetErrorString texts of the CUresult values the checkpoint API returns.
const CUDA_ERROR = {
  ILLEGAL_STATE: 'the operation cannot be performed in the present state',
  INVALID_VALUE: 'invalid argument',
  NOT_INITIALIZED: 'initialization error',
  OUT_OF_MEMORY: 'out of memory',
  OPERATING_SYSTEM: 'OS call failed or operation not supported on this OS',
  TIMEOUT: 'the operation timed out',
};

/** The driver's checkpoint state machine; every other move is CUDA_ERROR_ILLEGAL_STATE. */
const TRANSITIONS = {
  lock: { from: 'running', to: 'locked' },
  checkpoint: { from: 'locked', to: 'checkpointed' },
  restore: { from: 'checkpointed', to: 'locked' },
  unlock: { from: 'locked', to: 'running' },
};

/** A CUDA error from the driver; the caller words the message for the operation it was doing. */
class CudaError extends Error {}

/** A usage error: printed as is. */
class UsageError extends Error {}

// A lock that cannot be taken within this time counts as the lock action's timeout; other actions
// wait this long for a workload step in flight (steps hold the lock for well under a millisecond).
const DEFAULT_TIMEOUT_MS = 10_000;

function parseArgs(argv) {
  const opts = {};
  const takeValue = (i, name) => {
    const value = argv[i + 1];
    if (value === undefined) throw new UsageError(`Error: option ${name} requires a value.\n`);
    return value;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    switch (arg) {
      case '--help':
      case '-h':
        opts.help = true;
        break;
      case '--get-state':
      case '--toggle':
      case '--get-restore-tid':
        if (opts.operation !== undefined)
          throw new UsageError('Error: only one operation may be specified.\n');
        opts.operation = arg.slice(2);
        break;
      case '--action':
        if (opts.operation !== undefined)
          throw new UsageError('Error: only one operation may be specified.\n');
        opts.operation = 'action';
        opts.action = takeValue(i++, arg);
        break;
      case '--pid':
      case '-p':
        opts.pid = takeValue(i++, arg);
        break;
      case '--timeout':
      case '-t':
        opts.timeout = takeValue(i++, arg);
        break;
      case '--device-map':
        // r580 restores onto other GPUs with this; the sim has no migration, so it is accepted and unused.
        takeValue(i++, arg);
        break;
      default:
        throw new UsageError(
          `Error: unrecognized option '${arg}'. Run 'cuda-checkpoint --help' for usage.\n`,
        );
    }
  }
  return opts;
}

function registrationOf(dir, pid) {
  // A pid that is not a process at all, and a process that never initialised CUDA, fail differently.
  if (!isAlive(pid)) throw new CudaError(CUDA_ERROR.INVALID_VALUE);
  const reg = liveRegistration(dir, pid);
  if (reg === null) throw new CudaError(CUDA_ERROR.NOT_INITIALIZED);
  return reg;
}

function moveBuffer(from, to) {
  // Processes that register memory without a buffer (not the test workload) have nothing to move.
  if (fs.existsSync(from)) fs.renameSync(from, to);
}

/**
 * The real tool talks to a helper thread inside the target, so a stopped (SIGSTOP) process cannot
 * answer: the action waits until the process runs again or the timeout passes.
 */
function waitUntilRunnable(pid, deadline) {
  while (isStopped(pid)) {
    if (Date.now() >= deadline) throw new CudaError(CUDA_ERROR.TIMEOUT);
    sleepSync(5);
  }
}

/** One action, under the process's lock so it never interleaves with the workload's GPU step. */
function act(dir, pid, action, timeoutMs) {
  const move = TRANSITIONS[action];
  registrationOf(dir, pid);
  waitUntilRunnable(pid, Date.now() + timeoutMs);
  try {
    withProcessLock(dir, pid, timeoutMs, () => {
      const reg = registrationOf(dir, pid);
      if (reg.cudaState !== move.from) throw new CudaError(CUDA_ERROR.ILLEGAL_STATE);
      const next = {
        ...reg,
        cudaState: move.to,
        checkpointed: move.to === 'checkpointed',
        updatedAtMs: Date.now(),
      };
      if (action === 'checkpoint') {
        moveBuffer(devicePath(dir, pid), hostPath(dir, pid));
        next.hostMemoryMiB = reg.usedMemoryMiB;
        writeJsonAtomic(registrationPath(dir, pid), next);
      } else if (action === 'restore') {
        // Restoring allocates the memory again: it fails as cudaMalloc would when the GPU is full.
        withAllocLock(dir, () => {
          const gpu = readGpus(dir)?.gpus.find((g) => g.uuid === reg.gpuUuid);
          if (gpu === undefined) throw new CudaError(CUDA_ERROR.OPERATING_SYSTEM);
          if (freeMemoryMiB(gpu, liveRegistrations(dir), pid) < reg.usedMemoryMiB) {
            throw new CudaError(CUDA_ERROR.OUT_OF_MEMORY);
          }
          moveBuffer(hostPath(dir, pid), devicePath(dir, pid));
          next.hostMemoryMiB = 0;
          next.restoreCount = (reg.restoreCount ?? 0) + 1;
          writeJsonAtomic(registrationPath(dir, pid), next);
        });
      } else {
        writeJsonAtomic(registrationPath(dir, pid), next);
      }
    });
  } catch (e) {
    if (e instanceof LockTimeoutError) throw new CudaError(CUDA_ERROR.TIMEOUT);
    throw e;
  }
}

function run(argv) {
  const opts = parseArgs(argv);
  if (opts.help) {
    stdout.write(HELP);
    return 0;
  }
  if (opts.operation === undefined) {
    stderr.write(HELP);
    return 1;
  }
  if (opts.operation === 'action' && !(opts.action in TRANSITIONS) && opts.action !== 'get-state') {
    throw new UsageError(
      `Error: invalid action '${opts.action}'. Valid actions are lock, checkpoint, restore and unlock.\n`,
    );
  }
  if (opts.pid === undefined) throw new UsageError('Error: a process ID must be given with --pid.\n');
  const pid = Number(opts.pid);
  if (!Number.isInteger(pid) || pid <= 0) throw new UsageError(`Error: invalid process ID '${opts.pid}'.\n`);
  const timeoutMs = opts.timeout === undefined ? DEFAULT_TIMEOUT_MS : Number(opts.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 0) {
    throw new UsageError(`Error: invalid timeout '${opts.timeout}'.\n`);
  }

  const dir = stateDirFromEnv();
  if (dir === null || readGpus(dir) === null) {
    stderr.write(`Error initializing CUDA: "${CUDA_ERROR.OPERATING_SYSTEM}"\n`);
    return 1;
  }

  // `--action get-state` is what scripts/gpu-check/ckpt.c (the stand-in over the driver API) takes;
  // NVIDIA's tool spells it `--get-state`. Both are accepted so either can be driven.
  const operation = opts.operation === 'action' && opts.action === 'get-state' ? 'get-state' : opts.operation;
  const wording = {
    'get-state': `Could not get state on process ID ${pid}`,
    'get-restore-tid': `Could not get restore thread ID on process ID ${pid}`,
    toggle: `Error toggling CUDA in process ID ${pid}`,
    action: `Could not ${opts.action} on process ID ${pid}`,
  }[operation];
  try {
    if (operation === 'get-state') {
      stdout.write(`${registrationOf(dir, pid).cudaState}\n`);
    } else if (operation === 'get-restore-tid') {
      // The restore thread lives in the process; the sim's processes are single-threaded.
      registrationOf(dir, pid);
      stdout.write(`${pid}\n`);
    } else if (operation === 'toggle') {
      const state = registrationOf(dir, pid).cudaState;
      if (state === 'running') {
        act(dir, pid, 'lock', timeoutMs);
        act(dir, pid, 'checkpoint', timeoutMs);
      } else if (state === 'checkpointed') {
        act(dir, pid, 'restore', timeoutMs);
        act(dir, pid, 'unlock', timeoutMs);
      } else {
        throw new CudaError(CUDA_ERROR.ILLEGAL_STATE);
      }
    } else {
      act(dir, pid, opts.action, timeoutMs);
    }
  } catch (e) {
    if (!(e instanceof CudaError)) throw e;
    stderr.write(`${wording}: "${e.message}"\n`);
    return 1;
  }
  return 0;
}

try {
  process.exitCode = run(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof UsageError)) throw e;
  stderr.write(e.message);
  process.exitCode = 1;
}
