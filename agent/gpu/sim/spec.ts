/**
 * The sim backend's GPUs: `--sim-gpus 4xH100-80GB` parsed into GPU specs with the real products'
 * names, memory and limits; the state directory the fake `nvidia-smi` / `cuda-checkpoint` read
 * (layout in README.md); and where those executables live. The fakes are plain JS (`*.mjs`) that
 * read the same files, so the state format is defined twice: here (typed) and in `state.mjs`.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomicSync } from '../../../common/atomic-file.mjs';
import { err, ok, type Result, tesseraError } from '../../../common/errors.ts';
import { type DefaultsOf, withDefaults } from '../../../common/options.ts';
import { SIM_GPU_MODELS, type SimGpuModel } from './models.ts';

/** One GPU to simulate: a product, in the order the spec listed it. */
export type SimGpuSpec = SimGpuModel;

/** ECC error counters of a sim GPU (raise them in gpus.json to make a GPU unhealthy). */
export interface SimEccCounts {
  volatileCorrected: number;
  volatileUncorrected: number;
  aggregateCorrected: number;
  aggregateUncorrected: number;
}

/** One GPU in gpus.json: the model's facts plus identity and the knobs health tests turn. */
export interface SimGpu extends Omit<SimGpuModel, 'key' | 'idleTemperatureC' | 'hasMemoryTemperature'> {
  index: number;
  /** `GPU-` and a UUID (8-4-4-4-12 hex digits), derived from the seed, index and model: stable across runs. */
  uuid: string;
  serial: string;
  /** `00000000:18:00.0`. */
  pciBusId: string;
  /** The spec key, e.g. `H100-80GB`. */
  model: string;
  productBrand: string;
  /** Temperature at 0% utilization; the reading rises with utilization. */
  temperatureC: number;
  memoryTemperatureC: number | null;
  /** The driver's T.Limit point and the slowdown / shutdown temperatures (v13 reports margins to T.Limit). */
  temperatureTLimitC: number;
  temperatureSlowdownC: number;
  temperatureShutdownC: number;
  fanSpeedPct: number | null;
  persistenceMode: 'Enabled' | 'Disabled';
  computeMode: 'Default' | 'Exclusive_Process' | 'Prohibited';
  eccMode: 'Enabled' | 'Disabled';
  ecc: SimEccCounts;
  /** Active clock event reasons by their XML name without prefix, e.g. `hw_thermal_slowdown`. */
  throttleReasons: string[];
}

/** gpus.json. */
export interface SimState {
  version: 1;
  driverVersion: string;
  cudaVersion: string;
  gpus: SimGpu[];
}

/** The checkpoint state of a process, as `cuda-checkpoint --get-state` prints it. */
export type SimCudaState = 'running' | 'locked' | 'checkpointed';

/** procs/<pid>.json: one process's use of a sim GPU. */
export interface SimRegistration {
  pid: number;
  /** Start time from /proc/<pid>/stat (clock ticks): a reused pid is not mistaken for this process. */
  startTicks: string | null;
  gpuUuid: string;
  name: string;
  /** GPU memory the process holds; while checkpointed it is held in host memory instead. */
  usedMemoryMiB: number;
  utilizationPct: number;
  cudaState: SimCudaState;
  /** `cudaState === 'checkpointed'`, kept as its own field for readers that only ask this. */
  checkpointed: boolean;
  /** GPU memory parked in host RAM by a checkpoint; 0 when not checkpointed. */
  hostMemoryMiB: number;
  restoreCount: number;
  /** GPU steps done (the test workload's progress counter). */
  steps: number;
  /** sha256 of the GPU buffer after the last step. */
  dataChecksum: string;
  updatedAtMs: number;
}

const SPEC_FORM = '<count>x<model>-<memory>GB';
const SPEC_EXAMPLE = '4xH100-80GB, or a comma-separated mix like 2xA100-40GB,1xL40S-48GB';
/** Enough for any real node (HGX boards hold 8, the largest PCIe servers 16 or so) and a stress test. */
const MAX_SIM_GPUS = 64;

/** Parses `--sim-gpus` (`4xH100-80GB`, `8xA100-40GB`, `2xA100-40GB,1xL40S-48GB`) into one spec per GPU. */
export function parseSimGpus(text: string): Result<SimGpuSpec[]> {
  const invalid = (why: string) =>
    err(
      tesseraError(
        'TESSERA_E_INVALID_CONFIG',
        `--sim-gpus "${text}": ${why}; the accepted form is ${SPEC_FORM}, e.g. ${SPEC_EXAMPLE}; models: ${SIM_GPU_MODELS.map(
          (m) => m.key,
        ).join(', ')}`,
        { field: 'sim-gpus', context: { value: text } },
      ),
    );
  const specs: SimGpuSpec[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    const m = /^(\d+)x([a-z0-9]+-\d+gb)$/i.exec(item);
    if (m === null) return invalid(`"${item}" does not match`);
    const count = Number(m[1]);
    const key = m[2]!.toUpperCase();
    const model = SIM_GPU_MODELS.find((x) => x.key.toUpperCase() === key);
    if (model === undefined) return invalid(`no sim model "${m[2]}"`);
    if (count < 1) return invalid(`"${item}" asks for no GPUs`);
    for (let i = 0; i < count; i++) specs.push(model);
    if (specs.length > MAX_SIM_GPUS) return invalid(`more than ${MAX_SIM_GPUS} GPUs`);
  }
  return ok(specs);
}

/** Options of `initSimState`, with their defaults. */
export interface SimStateOptions {
  /** Varies the UUIDs, so two sim nodes on one machine do not share GPUs' identities. Default `tessera-sim`. */
  seed?: string;
  /** Default `580.159.04`: the driver of the H200 capture the XML schema follows. */
  driverVersion?: string;
  /** Default `13.0`, that driver's CUDA. */
  cudaVersion?: string;
}

/** The defaults of `SimStateOptions`, as its fields document them. */
const SIM_STATE_DEFAULTS = {
  seed: 'tessera-sim',
  driverVersion: '580.159.04',
  cudaVersion: '13.0',
} as const satisfies DefaultsOf<SimStateOptions>;

// HGX boards' GPU bus numbers; beyond eight GPUs the sequence is made up.
const PCI_BUSES = ['18', '2A', '3A', '5D', '9A', 'AB', 'BA', 'DB'];

function simGpu(spec: SimGpuSpec, index: number, seed: string): SimGpu {
  const h = createHash('sha256').update(`${seed}:${index}:${spec.key}`).digest('hex');
  const bus = PCI_BUSES[index] ?? (0x10 + index * 8).toString(16).toUpperCase().padStart(2, '0');
  const { key, idleTemperatureC, hasMemoryTemperature, ...facts } = spec;
  return {
    ...facts,
    index,
    uuid: `GPU-${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`,
    serial: `1${(BigInt(`0x${h.slice(32, 48)}`) % 10n ** 12n).toString().padStart(12, '0')}`,
    pciBusId: `00000000:${bus}:00.0`,
    model: key,
    productBrand: 'NVIDIA',
    temperatureC: idleTemperatureC,
    memoryTemperatureC: hasMemoryTemperature ? idleTemperatureC : null,
    // T.Limit and the margins the H200 capture reports (slowdown 2 C, shutdown 8 C beyond it).
    temperatureTLimitC: 87,
    temperatureSlowdownC: 89,
    temperatureShutdownC: 95,
    fanSpeedPct: null,
    persistenceMode: 'Enabled',
    computeMode: 'Default',
    eccMode: 'Enabled',
    ecc: { volatileCorrected: 0, volatileUncorrected: 0, aggregateCorrected: 0, aggregateUncorrected: 0 },
    throttleReasons: [],
  };
}

/** Readers (the fakes) must never see half a file. */
async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  writeFileAtomicSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Writes gpus.json for `specs` into `dir` (created if needed) and makes procs/. Registrations already
 * there are kept: a restarted agent must find the workloads still running on the sim GPUs.
 */
export async function initSimState(
  dir: string,
  specs: SimGpuSpec[],
  opts: SimStateOptions = {},
): Promise<SimState> {
  const { seed, driverVersion, cudaVersion } = withDefaults(opts, SIM_STATE_DEFAULTS);
  const state: SimState = {
    version: 1,
    driverVersion,
    cudaVersion,
    gpus: specs.map((spec, index) => simGpu(spec, index, seed)),
  };
  await mkdir(path.join(dir, 'procs'), { recursive: true });
  await writeJsonAtomic(path.join(dir, 'gpus.json'), state);
  // The agent's pid namespace: a workload outside it (in a container) registers under its
  // namespace too, so the fake nvidia-smi can report it by the agent's pid for it.
  const pidNs = await stat('/proc/self/ns/pid').then(
    (s) => s.ino,
    () => null,
  );
  if (pidNs !== null) await writeJsonAtomic(path.join(dir, 'pidns.json'), { pidNs });
  return state;
}

/** Reads gpus.json back. */
export async function readSimState(dir: string): Promise<SimState> {
  return JSON.parse(await readFile(path.join(dir, 'gpus.json'), 'utf8')) as SimState;
}

/** Changes one GPU's facts in place (fault injection: ECC errors, temperature, throttle reasons). */
export async function patchSimGpu(dir: string, index: number, patch: Partial<SimGpu>): Promise<SimState> {
  const state = await readSimState(dir);
  const gpu = state.gpus.find((g) => g.index === index);
  if (gpu === undefined) throw new Error(`sim state ${dir} has no GPU ${index}`);
  Object.assign(gpu, patch, { index: gpu.index, uuid: gpu.uuid });
  await writeJsonAtomic(path.join(dir, 'gpus.json'), state);
  return state;
}

/** A process's registration, or null when it has none (it may have exited). */
export async function readSimRegistration(dir: string, pid: number): Promise<SimRegistration | null> {
  try {
    return JSON.parse(await readFile(path.join(dir, 'procs', `${pid}.json`), 'utf8')) as SimRegistration;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** The environment the fakes and the workload read: which state directory is "the driver". */
export function simEnv(dir: string): Record<string, string> {
  return { TESSERA_SIM_STATE: dir };
}

const SIM_DIR = path.dirname(fileURLToPath(import.meta.url));

/** Where the fakes live: put `binDir` first on PATH, or pass the paths to the nvidia backend. */
export const SIM_TOOLS = {
  binDir: path.join(SIM_DIR, 'bin'),
  nvidiaSmi: path.join(SIM_DIR, 'bin', 'nvidia-smi'),
  cudaCheckpoint: path.join(SIM_DIR, 'bin', 'cuda-checkpoint'),
  workload: path.join(SIM_DIR, 'workload.mjs'),
} as const;
