/**
 * The agent's only view of GPUs (docs/architecture.md §4). Everything above this interface is backend-agnostic:
 * the `nvidia` backend runs the real nvidia-smi and cuda-checkpoint through execa; the `sim` backend
 * is the same code pointed at fake executables over a state directory.
 */
import type { Result, TesseraError } from '../../common/errors.ts';

/** MIG state of a GPU as nvidia-smi reports it. */
export type MigMode = 'enabled' | 'disabled' | 'unsupported';

/** One MIG instance on a GPU. */
export interface MigDevice {
  index: number;
  /** GPU instance id and compute instance id. */
  gpuInstanceId: number;
  computeInstanceId: number;
  memoryTotalMiB: number | null;
  /** MIG device UUID (`MIG-...`) when the driver reports one. */
  uuid: string | null;
  /** Memory in use inside the instance; absent or null where not reported. */
  memoryUsedMiB?: number | null;
}

/** A process using a GPU. Memory is null where the driver does not report it (WDDM, some MIG setups). */
export interface GpuProcess {
  pid: number;
  name: string;
  usedMemoryMiB: number | null;
  /** The MIG instance the process runs in (GPU / compute instance ids); null or absent without MIG. */
  gpuInstanceId?: number | null;
  computeInstanceId?: number | null;
}

/** Static and slow-changing facts of one GPU, from `nvidia-smi -q -x`. */
export interface GpuInfo {
  /**
   * nvidia-smi's / NVML's index, as `--query-gpu=index` prints it (and `nvidia-smi -i` takes): the
   * GPU's position in `-q -x`, which lists GPUs in index order. Not always the minor number.
   */
  index: number;
  /** The device node number (`/dev/nvidiaN`); null on Windows (WDDM), absent where unknown. */
  minorNumber?: number | null;
  /** PCI bus id (`00000000:17:00.0`), the `<gpu id>` attribute; absent where unknown. */
  pciBusId?: string;
  uuid: string;
  model: string;
  memoryTotalMiB: number;
  memoryReservedMiB: number | null;
  memoryUsedMiB: number | null;
  migMode: MigMode;
  migDevices: MigDevice[];
  /** Uncorrectable ECC errors, volatile and aggregate; null = not supported. */
  eccUncorrectedVolatile: number | null;
  eccUncorrectedAggregate: number | null;
  temperatureC: number | null;
  /** The driver's slowdown / shutdown thresholds, for health. */
  temperatureSlowdownC: number | null;
  temperatureShutdownC: number | null;
  /**
   * Degrees left before the GPU's T.Limit, where drivers 535+ on Ada / Hopper / Blackwell report that
   * instead of absolute slowdown / shutdown thresholds (which are then null); absent or null elsewhere.
   */
  temperatureTlimitMarginC?: number | null;
  powerDrawW: number | null;
  powerLimitW: number | null;
  utilizationPct: number | null;
  /** Active clock throttle reasons by name (e.g. `hw_thermal_slowdown`), idle excluded. */
  throttleReasons: string[];
  processes: GpuProcess[];
}

/** The inventory of a node's GPUs. */
export interface GpuInventory {
  driverVersion: string;
  cudaVersion: string | null;
  gpus: GpuInfo[];
}

/** One live sample of one GPU. */
export interface GpuSampleRow {
  uuid: string;
  index: number;
  utilizationPct: number | null;
  memoryUsedMiB: number | null;
  memoryTotalMiB: number | null;
  temperatureC: number | null;
  powerDrawW: number | null;
}

/** One process's GPU memory in a sample. */
export interface ProcessSampleRow {
  gpuUuid: string;
  pid: number;
  usedMemoryMiB: number | null;
}

/** What the sampling streams delivered, stamped with the agent's clock. */
export interface GpuSample {
  atMs: number;
  gpus: GpuSampleRow[];
  processes: ProcessSampleRow[];
}

/** A running sampler; stop() ends its child processes. */
export interface SampleStream {
  stop(): Promise<void>;
}

/** Callbacks of a sampler. Errors (a stream died, a line did not parse) are values, never throws. */
export interface SampleHandlers {
  onSample(sample: GpuSample): void;
  onError?(error: TesseraError): void;
}

/**
 * Where a process is in the driver's checkpoint state machine (`cuda-checkpoint --get-state`):
 * `running` on the GPU, `locked` (CUDA calls block; a swap was cut between its steps), `checkpointed`
 * (its GPU memory in host RAM), `failed` (the driver gave up on it).
 */
export type CheckpointState = 'running' | 'locked' | 'checkpointed' | 'failed';

/** The agent's GPU backend. */
export interface GpuDriver {
  readonly kind: 'nvidia' | 'sim';
  /** Full inventory (`nvidia-smi -q -x`). */
  discover(): Promise<Result<GpuInventory>>;
  /** Start long-lived sampling streams (one process per stream, restarted with backoff when they die). */
  sample(intervalMs: number, handlers: SampleHandlers): SampleStream;
  /** Whether GPU swap can work here (the checkpoint tool is present and answers); the error says why not. */
  swapSupport(): Promise<Result<true>>;
  /** Move a process's GPU memory to host memory: lock, then checkpoint. */
  checkpoint(pid: number): Promise<Result<true>>;
  /** Bring it back: restore, then unlock. */
  restore(pid: number): Promise<Result<true>>;
  /** The process's checkpoint state; an error when the driver cannot tell (no tool, r550's tool, not CUDA). */
  checkpointState(pid: number): Promise<Result<CheckpointState>>;
}
