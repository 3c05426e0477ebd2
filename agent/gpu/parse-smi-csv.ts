/**
 * nvidia-smi's `--query-gpu` / `--query-compute-apps` CSV -> sample rows. The sampler asks for
 * `--format=csv,noheader,nounits` with the fields below in that order; captures and people also use
 * the header form (`memory.used [MiB]`) with or without units in the values (`2566 MiB`), so a
 * header line, when present, decides the columns.
 */
import { err, ok, type Result, tesseraError } from '../../common/errors.ts';
import type { GpuSampleRow, ProcessSampleRow } from './driver.ts';
import { smiMiB, smiNumber, smiText } from './smi-values.ts';

/** The `--query-gpu` fields the sampler asks for, in the order its lines carry them. */
export const GPU_QUERY_FIELDS = [
  'index',
  'uuid',
  'utilization.gpu',
  'memory.used',
  'memory.total',
  'temperature.gpu',
  'power.draw',
] as const;

/** The `--query-compute-apps` fields the sampler asks for, in order. */
export const APPS_QUERY_FIELDS = ['gpu_uuid', 'pid', 'used_memory'] as const;

/** `used_gpu_memory` is the name captures' headers show for the field `used_memory` selects. */
const ALIASES: Record<string, string> = { used_gpu_memory: 'used_memory' };

/** A column name as the header prints it (`memory.used [MiB]`) -> the query field (`memory.used`). */
function columnName(cell: string): string {
  const name = cell
    .replace(/\s*\[[^\]]*\]\s*$/, '')
    .trim()
    .toLowerCase();
  return ALIASES[name] ?? name;
}

/**
 * nvidia-smi separates cells with ", " and never quotes, so a comma inside a value (only ever seen in
 * process names, which the sampler does not ask for) would shift the columns; the count check below
 * turns that into an error rather than a wrong number.
 */
function cells(line: string): string[] {
  return line.split(',').map((c) => c.trim());
}

/** The column names when `line` is a header line (`index, uuid, ...`), else null. */
export function csvHeaderColumns(line: string): string[] | null {
  const names = cells(line).map(columnName);
  return names.includes('uuid') || names.includes('gpu_uuid') || names.includes('pid') ? names : null;
}

function lineError(what: string, line: string, problem: string, lineNumber?: number) {
  const where = lineNumber === undefined ? '' : ` line ${lineNumber}`;
  return err(
    tesseraError('TESSERA_E_GPU_DRIVER', `nvidia-smi ${what}${where}: ${problem}: ${JSON.stringify(line)}`, {
      context: { line: line.slice(0, 500) },
    }),
  );
}

type Row = Map<string, string>;

function toRow(line: string, columns: readonly string[]): Row | null {
  const values = cells(line);
  if (values.length !== columns.length) return null;
  return new Map(columns.map((c, i) => [c, values[i] ?? '']));
}

/** A numeric cell: the number, null for N/A, or a problem text for the error. */
function numeric(row: Row, column: string, read: typeof smiNumber): number | null | string {
  const raw = row.get(column);
  if (raw === undefined) return null;
  const v = read(raw);
  return v === undefined ? `${column} is not a number (${JSON.stringify(raw)})` : v;
}

/** A `--query-gpu` line as a row, or what is wrong with it. */
function gpuRow(line: string, columns: readonly string[], ordinal: number): GpuSampleRow | string {
  const row = toRow(line, columns);
  if (row === null) return `expected ${columns.length} values, got ${cells(line).length}`;
  if (!columns.includes('uuid')) return 'the query has no uuid column';
  const uuid = smiText(row.get('uuid'));
  if (uuid === null) return 'uuid is N/A';
  // The P100 capture's query did not ask for `index`; nvidia-smi prints GPUs in index order.
  const index = columns.includes('index') ? numeric(row, 'index', smiNumber) : ordinal;
  if (typeof index !== 'number') return index ?? 'index is N/A';
  const util = numeric(row, 'utilization.gpu', smiNumber);
  const used = numeric(row, 'memory.used', smiMiB);
  const total = numeric(row, 'memory.total', smiMiB);
  const temp = numeric(row, 'temperature.gpu', smiNumber);
  const power = numeric(row, 'power.draw', smiNumber);
  for (const v of [util, used, total, temp, power]) if (typeof v === 'string') return v;
  return {
    uuid,
    index,
    utilizationPct: util as number | null,
    memoryUsedMiB: used as number | null,
    memoryTotalMiB: total as number | null,
    temperatureC: temp as number | null,
    powerDrawW: power as number | null,
  };
}

/** A `--query-compute-apps` line as a row, or what is wrong with it. */
function appsRow(line: string, columns: readonly string[]): ProcessSampleRow | string {
  const row = toRow(line, columns);
  if (row === null) return `expected ${columns.length} values, got ${cells(line).length}`;
  if (!columns.includes('gpu_uuid')) return 'the query has no gpu_uuid column';
  const gpuUuid = smiText(row.get('gpu_uuid'));
  if (gpuUuid === null) return 'gpu_uuid is N/A';
  const pid = numeric(row, 'pid', smiNumber);
  if (typeof pid === 'string') return pid;
  if (pid === null || !Number.isInteger(pid) || pid <= 0) return 'pid is not a pid';
  const used = numeric(row, 'used_memory', smiMiB);
  if (typeof used === 'string') return used;
  return { gpuUuid, pid, usedMemoryMiB: used };
}

/** Parses one `--query-gpu` line (columns default to GPU_QUERY_FIELDS); a bad line is an error quoting it. */
export function parseGpuCsvLine(
  line: string,
  columns: readonly string[] = GPU_QUERY_FIELDS,
  ordinal = 0,
): Result<GpuSampleRow> {
  const r = gpuRow(line, columns, ordinal);
  return typeof r === 'string' ? lineError('--query-gpu', line, r) : ok(r);
}

/** Parses one `--query-compute-apps` line (columns default to APPS_QUERY_FIELDS); a bad line is an error. */
export function parseAppsCsvLine(
  line: string,
  columns: readonly string[] = APPS_QUERY_FIELDS,
): Result<ProcessSampleRow> {
  const r = appsRow(line, columns);
  return typeof r === 'string' ? lineError('--query-compute-apps', line, r) : ok(r);
}

/** Splits output into its non-blank lines and the columns: from a header line if any, else `defaults`. */
function linesAndColumns(text: string, defaults: readonly string[]) {
  let columns: readonly string[] = defaults;
  const data: { line: string; lineNumber: number }[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const header = csvHeaderColumns(line);
    if (header !== null) columns = header;
    else data.push({ line, lineNumber: i + 1 });
  }
  return { columns, data };
}

/** Parses a whole `--query-gpu` output (header optional); the first bad line is the error, with its number. */
export function parseGpuCsv(text: string): Result<GpuSampleRow[]> {
  const { columns, data } = linesAndColumns(text, GPU_QUERY_FIELDS);
  const rows: GpuSampleRow[] = [];
  for (const [ordinal, { line, lineNumber }] of data.entries()) {
    const r = gpuRow(line, columns, ordinal);
    if (typeof r === 'string') return lineError('--query-gpu', line, r, lineNumber);
    rows.push(r);
  }
  return ok(rows);
}

/** Parses a whole `--query-compute-apps` output (header optional; a header alone means no processes). */
export function parseAppsCsv(text: string): Result<ProcessSampleRow[]> {
  const { columns, data } = linesAndColumns(text, APPS_QUERY_FIELDS);
  const rows: ProcessSampleRow[] = [];
  for (const { line, lineNumber } of data) {
    const r = appsRow(line, columns);
    if (typeof r === 'string') return lineError('--query-compute-apps', line, r, lineNumber);
    rows.push(r);
  }
  return ok(rows);
}
