/**
 * `nvidia-smi -q -x` -> GpuInventory. The schema drifted across drivers 418..595 (DTD v11, v12, v13):
 * tags were renamed (`power_readings` -> `gpu_power_readings`, `clocks_throttle_reasons` ->
 * `clocks_event_reasons`, `power_draw` -> `instant_power_draw`) and the ECC block changed shape
 * three times, so every field is looked up under each name a capture has shown it.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { err, ok, type Result, tesseraError } from '../../common/errors.ts';
import type { GpuInfo, GpuInventory, GpuProcess, MigDevice, MigMode } from './driver.ts';
import { smiMiB, smiNumber, smiText } from './smi-values.ts';

/** A parsed XML element: fast-xml-parser gives objects, strings (leaves) and arrays (repeats). */
type Node = unknown;

/** Tags that repeat; forced to arrays so one GPU, one process or one MIG device reads like many. */
const REPEATED = new Set(['gpu', 'mig_device', 'process_info']);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  // Keep every leaf a string: `0x6` or `00` must not turn into numbers before we look at units.
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  isArray: (tagName) => REPEATED.has(tagName),
});

function isRecord(n: Node): n is Record<string, unknown> {
  return typeof n === 'object' && n !== null && !Array.isArray(n);
}

/** The element at `path` below `node`, or undefined. */
function at(node: Node, ...path: string[]): Node {
  let cur: Node = node;
  for (const key of path) {
    if (!isRecord(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

/** The leaf text at `path`, or undefined when absent or not a leaf. */
function leaf(node: Node, ...path: string[]): string | undefined {
  const n = at(node, ...path);
  return typeof n === 'string' ? n : undefined;
}

/** The first of several alternative elements that exists (old and new tag names). */
function firstOf(node: Node, ...keys: string[]): Node {
  for (const k of keys) {
    const n = at(node, k);
    if (n !== undefined) return n;
  }
  return undefined;
}

/** A number from the first of `keys` under `node` that holds one; null when none does. */
function numberOf(node: Node, ...keys: string[]): number | null {
  for (const k of keys) {
    const v = smiNumber(leaf(node, k));
    if (typeof v === 'number') return v;
  }
  return null;
}

function list(n: Node): Node[] {
  if (Array.isArray(n)) return n;
  return n === undefined ? [] : [n];
}

/** The error every missing or garbled field becomes, naming the GPU and the field. */
function fieldError(gpuName: string, field: string, problem: string) {
  return err(
    tesseraError('TESSERA_E_GPU_DRIVER', `nvidia-smi -q -x: ${gpuName}: ${field} ${problem}`, {
      field,
      context: { gpu: gpuName },
    }),
  );
}

function migModeOf(gpu: Node): MigMode {
  const current = smiText(leaf(gpu, 'mig_mode', 'current_mig'))?.toLowerCase();
  if (current === 'enabled') return 'enabled';
  if (current === 'disabled') return 'disabled';
  return 'unsupported';
}

/**
 * Uncorrectable ECC errors in one counter block (`volatile` or `aggregate`). Three shapes:
 * Kepler..Volta drivers count `double_bit/total`; Ampere-era drivers `sram_uncorrectable` +
 * `dram_uncorrectable`; DTD v13 splits SRAM into `sram_uncorrectable_parity` + `_secded`.
 * Null when the GPU reports none of them (ECC unsupported or off).
 */
function uncorrectable(block: Node): number | null {
  if (!isRecord(block)) return null;
  if (block.double_bit !== undefined) {
    const total = smiNumber(leaf(block, 'double_bit', 'total'));
    return typeof total === 'number' ? total : null;
  }
  let sum: number | null = null;
  for (const [key, value] of Object.entries(block)) {
    if (!key.includes('uncorrectable') || typeof value !== 'string') continue;
    const n = smiNumber(value);
    if (typeof n === 'number') sum = (sum ?? 0) + n;
  }
  return sum;
}

/** Active clock throttle / event reasons by short name, idle left out (an idle GPU is not unhealthy). */
function throttleReasonsOf(gpu: Node): string[] {
  const block = firstOf(gpu, 'clocks_event_reasons', 'clocks_throttle_reasons');
  if (!isRecord(block)) return [];
  const active: string[] = [];
  for (const [key, value] of Object.entries(block)) {
    if (typeof value !== 'string' || value.trim() !== 'Active') continue;
    const name = key.replace(/^clocks_(event|throttle)_reason_/, '');
    if (name !== 'gpu_idle') active.push(name);
  }
  return active;
}

function migDevicesOf(gpu: Node, gpuName: string): Result<MigDevice[]> {
  const out: MigDevice[] = [];
  // `<mig_devices>None</mig_devices>` parses to the string 'None': list() of its mig_device is [].
  for (const [i, d] of list(at(gpu, 'mig_devices', 'mig_device')).entries()) {
    const index = smiNumber(leaf(d, 'index'));
    const gi = smiNumber(leaf(d, 'gpu_instance_id'));
    const ci = smiNumber(leaf(d, 'compute_instance_id'));
    if (typeof gi !== 'number')
      return fieldError(gpuName, `mig_device[${i}].gpu_instance_id`, 'is not a number');
    if (typeof ci !== 'number')
      return fieldError(gpuName, `mig_device[${i}].compute_instance_id`, 'is not a number');
    out.push({
      index: typeof index === 'number' ? index : i,
      gpuInstanceId: gi,
      computeInstanceId: ci,
      memoryTotalMiB: smiMiB(leaf(d, 'fb_memory_usage', 'total')) ?? null,
      memoryUsedMiB: smiMiB(leaf(d, 'fb_memory_usage', 'used')) ?? null,
      // No driver up to 595 prints a MIG UUID in -q -x (only `nvidia-smi -L` does); read it if one does.
      uuid: smiText(leaf(d, 'uuid')),
    });
  }
  return ok(out);
}

function processesOf(gpu: Node, gpuName: string): Result<GpuProcess[]> {
  const out: GpuProcess[] = [];
  for (const [i, p] of list(at(gpu, 'processes', 'process_info')).entries()) {
    const pid = smiNumber(leaf(p, 'pid'));
    if (typeof pid !== 'number' || !Number.isInteger(pid)) {
      return fieldError(gpuName, `process_info[${i}].pid`, `is not a pid: ${JSON.stringify(leaf(p, 'pid'))}`);
    }
    const gi = smiNumber(leaf(p, 'gpu_instance_id'));
    const ci = smiNumber(leaf(p, 'compute_instance_id'));
    out.push({
      pid,
      // WDDM leaves some names empty; an empty name is a fact, not an error.
      name: smiText(leaf(p, 'process_name')) ?? '',
      usedMemoryMiB: smiMiB(leaf(p, 'used_memory')) ?? null,
      gpuInstanceId: typeof gi === 'number' ? gi : null,
      computeInstanceId: typeof ci === 'number' ? ci : null,
    });
  }
  return ok(out);
}

function parseGpu(gpu: Node, position: number): Result<GpuInfo> {
  const busId = isRecord(gpu) && typeof gpu['@_id'] === 'string' ? gpu['@_id'] : undefined;
  const gpuName = `GPU ${position}${busId === undefined ? '' : ` (${busId})`}`;
  const uuid = smiText(leaf(gpu, 'uuid'));
  if (uuid === null) return fieldError(gpuName, 'uuid', 'is missing');
  const model = smiText(leaf(gpu, 'product_name'));
  if (model === null) return fieldError(gpuName, 'product_name', 'is missing');
  const totalRaw = leaf(gpu, 'fb_memory_usage', 'total');
  const memoryTotalMiB = smiMiB(totalRaw);
  if (memoryTotalMiB === null) return fieldError(gpuName, 'fb_memory_usage.total', 'is missing');
  if (memoryTotalMiB === undefined) {
    return fieldError(gpuName, 'fb_memory_usage.total', `is not a size: ${JSON.stringify(totalRaw)}`);
  }
  const minor = smiNumber(leaf(gpu, 'minor_number'));
  const migDevices = migDevicesOf(gpu, gpuName);
  if (!migDevices.ok) return migDevices;
  const processes = processesOf(gpu, gpuName);
  if (!processes.ok) return processes;
  const ecc = at(gpu, 'ecc_errors');
  const temp = at(gpu, 'temperature');
  const power = firstOf(gpu, 'gpu_power_readings', 'power_readings');
  const info: GpuInfo = {
    // -q -x lists GPUs in NVML index order, the index `--query-gpu=index` samples carry. minor_number
    // is the /dev/nvidiaN node and can differ (the dual-A5000 capture has 1 then 0), so it is kept apart.
    index: position,
    minorNumber: typeof minor === 'number' ? minor : null,
    uuid,
    model,
    memoryTotalMiB,
    memoryReservedMiB: smiMiB(leaf(gpu, 'fb_memory_usage', 'reserved')) ?? null,
    memoryUsedMiB: smiMiB(leaf(gpu, 'fb_memory_usage', 'used')) ?? null,
    migMode: migModeOf(gpu),
    migDevices: migDevices.value,
    eccUncorrectedVolatile: uncorrectable(at(ecc, 'volatile')),
    eccUncorrectedAggregate: uncorrectable(at(ecc, 'aggregate')),
    temperatureC: numberOf(temp, 'gpu_temp'),
    temperatureSlowdownC: numberOf(temp, 'gpu_temp_slow_threshold'),
    temperatureShutdownC: numberOf(temp, 'gpu_temp_max_threshold'),
    temperatureTlimitMarginC: numberOf(temp, 'gpu_temp_tlimit'),
    // v13 reports both an average and an instant draw; the instant one matches what -q printed before.
    powerDrawW: numberOf(power, 'power_draw', 'instant_power_draw', 'average_power_draw'),
    powerLimitW: numberOf(power, 'current_power_limit', 'power_limit', 'enforced_power_limit'),
    utilizationPct: numberOf(at(gpu, 'utilization'), 'gpu_util'),
    throttleReasons: throttleReasonsOf(gpu),
    processes: processes.value,
  };
  if (busId !== undefined) info.pciBusId = busId;
  return ok(info);
}

/** Parses the output of `nvidia-smi -q -x` into an inventory; a missing required field is an error naming the GPU. */
export function parseSmiXml(xml: string): Result<GpuInventory> {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    return err(
      tesseraError(
        'TESSERA_E_GPU_DRIVER',
        `nvidia-smi -q -x printed malformed XML at line ${valid.err.line}: ${valid.err.msg}`,
        { context: { line: valid.err.line } },
      ),
    );
  }
  const doc: unknown = parser.parse(xml);
  const log = at(doc, 'nvidia_smi_log');
  if (!isRecord(log)) {
    return err(tesseraError('TESSERA_E_GPU_DRIVER', 'nvidia-smi -q -x: no <nvidia_smi_log> root element'));
  }
  const driverVersion = smiText(leaf(log, 'driver_version'));
  if (driverVersion === null) {
    return err(
      tesseraError('TESSERA_E_GPU_DRIVER', 'nvidia-smi -q -x: driver_version is missing', {
        field: 'driver_version',
      }),
    );
  }
  const gpus: GpuInfo[] = [];
  for (const [position, gpu] of list(log.gpu).entries()) {
    const parsed = parseGpu(gpu, position);
    if (!parsed.ok) return parsed;
    gpus.push(parsed.value);
  }
  return ok({ driverVersion, cudaVersion: smiText(leaf(log, 'cuda_version')), gpus });
}
