/**
 * The agent's only view of GPUs (ARCHITECTURE 4). Everything above this interface is backend-agnostic:
 * the `nvidia` backend runs the real nvidia-smi and cuda-checkpoint through execa; the `sim` backend
 * is the same code pointed at fake executables over a state directory.
 */
import type { Result, TesseraError } from '../../shared/errors.ts';

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
}

/** A process using a GPU. Memory is null where the driver does not report it (WDDM, some MIG setups). */
export interface GpuProcess {
  pid: number;
  name: string;
  usedMemoryMiB: number | null;
}

/** Static and slow-changing facts of one GPU, from `nvidia-smi -q -x`. */
export interface GpuInfo {
  index: number;
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
}
