/**
 * Reads the Alibaba GPU cluster trace 2023 (FGD, ATC'23; `test/fixtures/traces/alibaba-gpu-v2023/README.md`) into typed
 * rows, validating each cell once: a bad row is TESSERA_E_INVALID_TRACE naming file, line, column
 * and value. Columns are found by header name, so the 5-column multigpu20 variant (no qos, phase or
 * times) reads as well as the 11-column files.
 */
import { type TargetMix, targetMixFromPods } from '../allocator/scheduler/placement/mix.ts';
import type { GpuState, NodeState } from '../allocator/scheduler/placement/types.ts';
import { err, ok, type Result, tesseraError } from '../common/errors.ts';

/** One trace node (`openb_node_list_*.csv`). */
export interface TraceNode {
  name: string;
  cpuMillis: number;
  memoryMiB: number;
  gpuCount: number;
  /** GPU model; '' for a node without GPUs. */
  model: string;
}

/** One trace pod (`openb_pod_list_*.csv`); times in seconds, absent when the file has none. */
export interface TracePod {
  name: string;
  cpuMillis: number;
  memoryMiB: number;
  numGpu: number;
  /** Milli per GPU: below 1000 only for a one-GPU sharing pod; 0 for CPU-only. */
  gpuMilli: number;
  /** Allowed GPU models; empty = any. */
  gpuSpec: string[];
  qos?: string;
  phase?: string;
  creationTimeS?: number;
  deletionTimeS?: number;
  scheduledTimeS?: number;
}

/** A parsed CSV row with where it came from. */
interface Row {
  line: number;
  cells: string[];
}

function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  // Quoted cells ("a,b", "" for a quote) are rare in traces but legal CSV.
  const out: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cell);
      cell = '';
    } else cell += ch;
  }
  out.push(cell);
  return out;
}

function rowsOf(text: string): { header: string[]; rows: Row[] } {
  const lines = text.split(/\r?\n/);
  const header = splitCsvLine(lines[0]?.replace(/^\uFEFF/, '') ?? '').map((h) => h.trim());
  const rows: Row[] = [];
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i] ?? '';
    if (l.trim() === '') continue;
    rows.push({ line: i + 1, cells: splitCsvLine(l) });
  }
  return { header, rows };
}

/** Thrown inside a reader and turned into a Result at its edge. */
class TraceError extends Error {
  constructor(readonly detail: ReturnType<typeof tesseraError>) {
    super(detail.message);
  }
}

function bad(file: string, line: number, column: string, value: string, accepts: string): TraceError {
  return new TraceError(
    tesseraError(
      'TESSERA_E_INVALID_TRACE',
      `${file}:${line}: column ${column}: ${JSON.stringify(value)} is not ${accepts}`,
      { field: column, context: { file, line, column, value } },
    ),
  );
}

/** Reads cells of one row by column name, validating as it goes. */
class Cells {
  constructor(
    private readonly file: string,
    private readonly cols: ReadonlyMap<string, number>,
    private readonly row: Row,
  ) {}

  has(col: string): boolean {
    return this.cols.has(col);
  }

  text(col: string): string {
    const i = this.cols.get(col);
    return i === undefined ? '' : (this.row.cells[i] ?? '').trim();
  }

  name(col: string): string {
    const v = this.text(col);
    if (v === '') throw bad(this.file, this.row.line, col, v, 'a non-empty name');
    return v;
  }

  int(col: string, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.text(col);
    const n = /^\d+$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isSafeInteger(n) || n > max) {
      throw bad(
        this.file,
        this.row.line,
        col,
        v,
        `a whole number from 0 to ${max === Number.MAX_SAFE_INTEGER ? 'any' : max}`,
      );
    }
    return n;
  }

  /** An optional non-negative time in seconds: empty or absent -> undefined. */
  seconds(col: string): number | undefined {
    const v = this.text(col);
    if (v === '') return undefined;
    const n = /^\d+(\.\d+)?$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isFinite(n))
      throw bad(this.file, this.row.line, col, v, 'a non-negative number of seconds or empty');
    return n;
  }

  fail(col: string, accepts: string): never {
    throw bad(this.file, this.row.line, col, this.text(col), accepts);
  }
}

function columns(file: string, header: string[], required: readonly string[]): Map<string, number> {
  const cols = new Map<string, number>();
  header.forEach((h, i) => {
    if (!cols.has(h)) cols.set(h, i);
  });
  const missing = required.filter((c) => !cols.has(c));
  if (missing.length > 0) {
    throw new TraceError(
      tesseraError(
        'TESSERA_E_INVALID_TRACE',
        `${file}:1: header lacks column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (found: ${header.join(',') || 'nothing'})`,
        { field: missing[0], context: { file, line: 1 } },
      ),
    );
  }
  return cols;
}

function guarded<T>(read: () => T): Result<T> {
  try {
    return ok(read());
  } catch (e) {
    if (e instanceof TraceError) return err(e.detail);
    throw e;
  }
}

function noDuplicate(file: string, seen: Map<string, number>, name: string, line: number, col: string): void {
  const first = seen.get(name);
  if (first !== undefined) throw bad(file, line, col, name, `a new name (line ${first} has it already)`);
  seen.set(name, line);
}

/** Parses a node list (`sn,cpu_milli,memory_mib,gpu,model`). */
export function readTraceNodes(csvText: string, file: string): Result<TraceNode[]> {
  return guarded(() => {
    const { header, rows } = rowsOf(csvText);
    const cols = columns(file, header, ['sn', 'cpu_milli', 'memory_mib', 'gpu', 'model']);
    const seen = new Map<string, number>();
    return rows.map((row) => {
      const c = new Cells(file, cols, row);
      const name = c.name('sn');
      noDuplicate(file, seen, name, row.line, 'sn');
      const gpuCount = c.int('gpu', 1024);
      const model = c.text('model');
      if (gpuCount > 0 && model === '') c.fail('model', 'a GPU model (the node has GPUs)');
      return { name, cpuMillis: c.int('cpu_milli'), memoryMiB: c.int('memory_mib'), gpuCount, model };
    });
  });
}

/** Parses a pod list (`name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec,qos,pod_phase,times]`). */
export function readTracePods(csvText: string, file: string): Result<TracePod[]> {
  return guarded(() => {
    const { header, rows } = rowsOf(csvText);
    const cols = columns(file, header, ['name', 'cpu_milli', 'memory_mib', 'num_gpu', 'gpu_milli']);
    const seen = new Map<string, number>();
    return rows.map((row) => {
      const c = new Cells(file, cols, row);
      const name = c.name('name');
      noDuplicate(file, seen, name, row.line, 'name');
      const numGpu = c.int('num_gpu', 1024);
      const gpuMilli = c.int('gpu_milli', 1000);
      if (numGpu === 0 && gpuMilli !== 0)
        c.fail('gpu_milli', '0 (num_gpu is 0: a CPU-only pod has no GPU share)');
      if (numGpu > 0 && gpuMilli === 0) c.fail('gpu_milli', 'from 1 to 1000 (num_gpu is above 0)');
      // The trace's semantics (README): a share below one GPU exists only for one-GPU pods.
      if (numGpu > 1 && gpuMilli !== 1000) c.fail('gpu_milli', '1000 (a multi-GPU pod takes whole GPUs)');
      const pod: TracePod = {
        name,
        cpuMillis: c.int('cpu_milli'),
        memoryMiB: c.int('memory_mib'),
        numGpu,
        gpuMilli,
        gpuSpec: c
          .text('gpu_spec')
          .split('|')
          .map((s) => s.trim())
          .filter((s) => s !== ''),
      };
      const qos = c.text('qos');
      if (qos !== '') pod.qos = qos;
      const phase = c.text('pod_phase');
      if (phase !== '') pod.phase = phase;
      const created = c.seconds('creation_time');
      if (created !== undefined) pod.creationTimeS = created;
      const deleted = c.seconds('deletion_time');
      if (deleted !== undefined) pod.deletionTimeS = deleted;
      const scheduled = c.seconds('scheduled_time');
      if (scheduled !== undefined) pod.scheduledTimeS = scheduled;
      return pod;
    });
  });
}

/**
 * GPU memory by trace model, in MiB (vendor specifications; G1-G3 are undisclosed, so the default).
 * It shapes only the memory a share carries, never whether a milli share fits (floor(m x M / 1000)
 * summed over tenants never exceeds M), so it does not move the FGD metrics.
 */
export const TRACE_GPU_MEMORY_MIB: Readonly<Record<string, number>> = {
  P100: 16_384,
  T4: 16_384,
  V100M16: 16_384,
  V100M32: 32_768,
  A10: 24_576,
  A100: 81_920,
  H100: 81_920,
};

/** GPU memory used for models the table does not know. */
export const DEFAULT_TRACE_GPU_MEMORY_MIB = 32_768;

/**
 * The FGD target mix ("typical pods", fgd-method.md §4.4) of trace pods, with each shape's mean host
 * memory: FGD's measure ignores it, fragmentation-aware's reads it. Pass the trace as read, before
 * any inflation copies (fgd-method.md §2, last line).
 */
export function traceTargetMix(pods: readonly TracePod[]): TargetMix {
  return targetMixFromPods(
    pods.map((p) => ({
      cpuMillis: p.cpuMillis,
      gpuMilli: p.gpuMilli,
      gpuCount: p.numGpu,
      gpuModels: p.gpuSpec,
      memoryMiB: p.memoryMiB,
    })),
  );
}

/** Turns trace nodes into fresh placement state: pool `default`, every GPU healthy and free. */
export function traceNodesToState(nodes: readonly TraceNode[]): NodeState[] {
  return nodes.map((n) => {
    const memoryMiB = TRACE_GPU_MEMORY_MIB[n.model] ?? DEFAULT_TRACE_GPU_MEMORY_MIB;
    const gpus: GpuState[] = Array.from({ length: n.gpuCount }, (_, index) => ({
      uuid: `${n.name}-gpu${index}`,
      index,
      model: n.model,
      memoryMiB,
      healthy: true,
      freeMilli: 1000,
      freeMemoryMiB: memoryMiB,
    }));
    return {
      name: n.name,
      pool: 'default',
      nodeType: '',
      labels: { 'gpu.model': n.model, 'gpu.count': String(n.gpuCount) },
      schedulable: true,
      gpus,
      cpuMillis: n.cpuMillis,
      memoryMiB: n.memoryMiB,
      cpuFreeMillis: n.cpuMillis,
      memoryFreeMiB: n.memoryMiB,
      portCount: 0,
      portsFree: 0,
    };
  });
}
