/**
 * The agent's GPUs (docs/architecture.md §4): the GpuDriver interface and its nvidia backend.
 *   driver.ts          GpuDriver and its types: inventory, samples, swap
 *   nvidia.ts          createNvidiaDriver: the only file that decides what nvidia-smi / cuda-checkpoint run
 *   parse-smi-xml.ts   `nvidia-smi -q -x` -> GpuInventory, across drivers 418..595 (pure)
 *   parse-smi-csv.ts   `--query-gpu` / `--query-compute-apps` CSV lines -> sample rows (pure)
 *   smi-values.ts      N/A placeholders and numbers with units, shared by both parsers (pure)
 *   sample-grouper.ts  the two streams' lines -> a GpuSample per interval, and at once per changed process burst
 *   tool-process.ts    running a tool once (timeout) or as a stream restarted with backoff (execa)
 *   host.ts            hostFacts: hostname, OS, CPU, memory (systeminformation, in a child: host/facts.ts)
 *   sim/               the sim backend: fake nvidia-smi / cuda-checkpoint over a state directory
 */
export type {
  CheckpointState,
  GpuDriver,
  GpuInfo,
  GpuInventory,
  GpuProcess,
  GpuSample,
  GpuSampleRow,
  MigDevice,
  MigMode,
  ProcessSampleRow,
  SampleHandlers,
  SampleStream,
} from './driver.ts';
export { type HostFacts, hostFacts } from './host.ts';
export {
  CUDA_CHECKPOINT_MISSING,
  createNvidiaDriver,
  NVIDIA_SMI_MISSING,
  type NvidiaDriverOptions,
} from './nvidia.ts';
export {
  APPS_QUERY_FIELDS,
  GPU_QUERY_FIELDS,
  parseAppsCsv,
  parseAppsCsvLine,
  parseGpuCsv,
  parseGpuCsvLine,
} from './parse-smi-csv.ts';
export { parseSmiXml } from './parse-smi-xml.ts';
export { type RestartBackoff, TOOL_RESTART_BACKOFF } from './tool-process.ts';
