/**
 * How nvidia-smi spells "no value", and its numbers with units, shared by the XML and CSV parsers so
 * both read `N/A`, `[Not Supported]` or `80.47 W` the same way.
 */

/**
 * Placeholders nvidia-smi prints instead of a value. The CSV form wraps them in brackets
 * (`[N/A]`, `[Not Supported]`); the XML form mostly does not. Newer drivers keep adding phrases
 * (`Requested functionality has been deprecated` in 590), so any bracketed text also counts.
 */
const NO_VALUE = new Set([
  '',
  'n/a',
  'not supported',
  'unknown error',
  'insufficient permissions',
  'requested functionality has been deprecated',
  'function not found',
  'gpu is lost',
  'not found',
]);

/** The trimmed value, or null where nvidia-smi printed a placeholder for "no value". */
export function smiText(raw: string | null | undefined): string | null {
  if (raw === null || raw === undefined) return null;
  const s = raw.trim();
  if (s.startsWith('[') && s.endsWith(']')) return null;
  if (NO_VALUE.has(s.toLowerCase())) return null;
  return s;
}

/** Binary-prefixed sizes as nvidia-smi prints them, in MiB. */
const MIB_PER_UNIT: Record<string, number> = { kib: 1 / 1024, mib: 1, gib: 1024, tib: 1024 * 1024 };

const NUMBER_WITH_UNIT = /^(-?\d+(?:\.\d+)?)\s*([A-Za-z%]+)?$/;

/**
 * A number with an optional unit (`80.47 W`, `34 C`, `0 %`, `2566 MiB`, `28.16`): the number, or
 * null for a placeholder; `undefined` when the text is present but not a number, so a caller can
 * tell "not reported" from "garbled".
 */
export function smiNumber(raw: string | null | undefined): number | null | undefined {
  const s = smiText(raw);
  if (s === null) return null;
  const m = NUMBER_WITH_UNIT.exec(s);
  if (!m) return undefined;
  return Number(m[1]);
}

/** A memory size in MiB (`143771 MiB`, or a bare number as `nounits` prints it); see smiNumber. */
export function smiMiB(raw: string | null | undefined): number | null | undefined {
  const s = smiText(raw);
  if (s === null) return null;
  const m = NUMBER_WITH_UNIT.exec(s);
  if (!m) return undefined;
  const unit = (m[2] ?? 'MiB').toLowerCase();
  const factor = MIB_PER_UNIT[unit];
  if (factor === undefined) return undefined;
  return Math.round(Number(m[1]) * factor);
}
