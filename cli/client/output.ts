/**
 * How client commands print what the API answered: an aligned table for people (the default), or
 * the data itself as JSON or YAML for scripts (`-o json | jq ...`). Commands build the table from
 * the same data they would print as JSON, so the two never disagree about what exists.
 */
import { Option } from 'commander';
import { stringify } from 'yaml';
import { renderTable } from '../../sim/report.ts';
import type { CliIo } from '../io.ts';

/** Every `-o` value. */
export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;

/** One `-o` value. */
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The `-o, --output` option every printing command takes (default table). */
export function outputOption(): Option {
  return new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('table');
}

/** A table: a header row and rows of cells, all left-aligned as kubectl-style listings are. */
export interface Table {
  header: readonly string[];
  rows: readonly (readonly string[])[];
}

/** Renders `table` with columns padded to their widest cell, two spaces apart, ending in a newline. */
export function formatTable(table: Table): string {
  return `${renderTable(table.header, table.rows, table.header.length)}\n`;
}

/** `data` as JSON (2-space indent) or YAML, ending in a newline. */
export function formatData(format: 'json' | 'yaml', data: unknown): string {
  return format === 'json' ? `${JSON.stringify(data, null, 2)}\n` : stringify(data);
}

/**
 * Prints `data` in `format`: JSON or YAML as is, or `human(data)` for a table. `human` is a function
 * so a command only builds its table when one is asked for.
 */
export function printData<T>(io: CliIo, format: OutputFormat, data: T, human: (data: T) => string): void {
  io.out(format === 'table' ? human(data) : formatData(format, data));
}

/** How long ago `iso` was, in the largest whole unit: '45s', '12m', '3h', '5d'. */
export function formatAge(iso: string, nowMs: number): string {
  const ms = nowMs - Date.parse(iso);
  if (!Number.isFinite(ms)) return '-';
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h}h` : `${Math.floor(h / 24)}d`;
}
