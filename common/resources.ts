/**
 * GPU, CPU, memory and duration quantities: parsed once at the boundary into integers with the
 * unit in the name (`gpuMilli`, `cpuMillis`, `memoryMiB`, `...Ms`), and the fraction arithmetic
 * the scheduler and the agent must agree on to the last MiB.
 */
import { err, ok, type Result, tesseraError } from './errors.ts';

/** One whole GPU in milli-GPU: a GPU is 1000 milli-units of compute share. */
export const MILLI_PER_GPU = 1000;

/** Milli-cores in one CPU core. */
export const MILLIS_PER_CPU = 1000;

/** A resource vector in normalised units. */
export interface Resources {
  gpuMilli: number;
  cpuMillis: number;
  memoryMiB: number;
}

const MIB = 1024n * 1024n;

/** Bytes per memory unit. Binary units are exact; SI ones (k, M, G, T) are powers of ten. */
const MEMORY_UNITS: Readonly<Record<string, bigint>> = {
  Ki: 1024n,
  KiB: 1024n,
  Mi: MIB,
  MiB: MIB,
  Gi: MIB * 1024n,
  GiB: MIB * 1024n,
  Ti: MIB * 1024n * 1024n,
  TiB: MIB * 1024n * 1024n,
  k: 1000n,
  K: 1000n,
  kB: 1000n,
  KB: 1000n,
  M: 1000n ** 2n,
  MB: 1000n ** 2n,
  G: 1000n ** 3n,
  GB: 1000n ** 3n,
  T: 1000n ** 4n,
  TB: 1000n ** 4n,
};

/** Milliseconds per duration unit. */
const DURATION_UNITS: Readonly<Record<string, bigint>> = {
  ms: 1n,
  s: 1000n,
  m: 60_000n,
  h: 3_600_000n,
  d: 86_400_000n,
};

const GPU_FORMS = "a number of GPUs in steps of 0.001 ('0.5', '2', 0.25) or milli-GPUs ('500m')";
const CPU_FORMS = "a number of cores in steps of 0.001 ('2', '0.5', 2) or milli-cores ('500m')";
const MEMORY_FORMS = `a number of MiB (20480) or a quantity with a unit (${Object.keys(MEMORY_UNITS).join(', ')}), e.g. '20GiB', '512Mi', '16GB'`;
const DURATION_FORMS = `a whole number of milliseconds (40000) or a duration with units (${Object.keys(DURATION_UNITS).join(', ')}), e.g. '250ms', '40s', '5m', '1h30m'`;

/** An exact non-negative decimal as numerator / denominator, so '0.1' stays exactly a tenth. */
interface Decimal {
  num: bigint;
  den: bigint;
}

const DECIMAL_RE = /^(\d*)(?:\.(\d+))?$/;

function parseDecimal(s: string): Decimal | undefined {
  const m = DECIMAL_RE.exec(s);
  if (m === null) return undefined;
  const intPart = m[1] ?? '';
  const fracPart = m[2] ?? '';
  if (intPart === '' && fracPart === '') return undefined;
  return { num: BigInt(`${intPart}${fracPart}` || '0'), den: 10n ** BigInt(fracPart.length) };
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

function toSafeNumber(v: bigint): number | undefined {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : undefined;
}

function quantityError(
  code: 'TESSERA_E_INVALID_QUANTITY' | 'TESSERA_E_INVALID_DURATION',
  what: string,
  input: string | number,
  why: string,
  forms: string,
  field: string | undefined,
): Result<never> {
  const shown = typeof input === 'string' ? `"${input}"` : String(input);
  const where = field === undefined ? '' : `${field}: `;
  return err(
    tesseraError(code, `${where}invalid ${what} ${shown}: ${why}; accepted: ${forms}`, {
      field,
      context: { input: String(input) },
    }),
  );
}

/** Why a number is not a valid non-negative quantity, or undefined when it is one. */
function badNumber(n: number): string | undefined {
  if (Number.isNaN(n)) return 'not a number';
  if (!Number.isFinite(n)) return 'not finite';
  if (n < 0) return 'must not be negative';
  return undefined;
}

/** Why a string is not a decimal, naming a leading '-' specially since it is the common mistake. */
function badString(s: string): string {
  if (s === '') return 'empty';
  if (s.startsWith('-')) return 'must not be negative';
  return 'not a recognised form';
}

/** Shared by GPU and CPU: both are decimals of a unit in steps of 1/1000, or a count of milli-units. */
function parseMilliUnits(
  input: string | number,
  what: string,
  forms: string,
  field: string | undefined,
): Result<number> {
  if (typeof input === 'number') {
    const bad = badNumber(input);
    if (bad !== undefined) return quantityError('TESSERA_E_INVALID_QUANTITY', what, input, bad, forms, field);
    const milli = input * 1000;
    const rounded = Math.round(milli);
    // Binary floating point makes 0.29 * 1000 = 290.00000000000006: tolerate that, but not 0.0005.
    if (Math.abs(milli - rounded) > 1e-6) {
      return quantityError('TESSERA_E_INVALID_QUANTITY', what, input, 'finer than 0.001', forms, field);
    }
    if (!Number.isSafeInteger(rounded)) {
      return quantityError('TESSERA_E_INVALID_QUANTITY', what, input, 'too large', forms, field);
    }
    return ok(rounded);
  }
  const s = input.trim();
  const milliForm = /^(\d+)m$/.exec(s);
  let value: bigint;
  if (milliForm !== null) {
    value = BigInt(milliForm[1] ?? '0');
  } else {
    const d = parseDecimal(s);
    if (d === undefined) {
      return quantityError('TESSERA_E_INVALID_QUANTITY', what, input, badString(s), forms, field);
    }
    if ((d.num * 1000n) % d.den !== 0n) {
      return quantityError('TESSERA_E_INVALID_QUANTITY', what, input, 'finer than 0.001', forms, field);
    }
    value = (d.num * 1000n) / d.den;
  }
  const n = toSafeNumber(value);
  if (n === undefined)
    return quantityError('TESSERA_E_INVALID_QUANTITY', what, input, 'too large', forms, field);
  return ok(n);
}

/** Parses a GPU quantity ('0.5', '500m', '2', 0.25) into milli-GPU; `field` names it in errors. */
export function parseGpu(input: string | number, field?: string): Result<number> {
  return parseMilliUnits(input, 'GPU quantity', GPU_FORMS, field);
}

/** Parses a CPU quantity ('2', '500m', 0.5 cores) into milli-cores; `field` names it in errors. */
export function parseCpuMillis(input: string | number, field?: string): Result<number> {
  return parseMilliUnits(input, 'CPU quantity', CPU_FORMS, field);
}

/** Parses a memory quantity (number = MiB, '20GiB', '512Mi', '16GB') into MiB, rounding up. */
export function parseMemoryMiB(input: string | number, field?: string): Result<number> {
  const what = 'memory quantity';
  if (typeof input === 'number') {
    const bad = badNumber(input);
    if (bad !== undefined)
      return quantityError('TESSERA_E_INVALID_QUANTITY', what, input, bad, MEMORY_FORMS, field);
    const mib = Math.ceil(input);
    if (!Number.isSafeInteger(mib)) {
      return quantityError('TESSERA_E_INVALID_QUANTITY', what, input, 'too large', MEMORY_FORMS, field);
    }
    return ok(mib);
  }
  const s = input.trim();
  const m = /^([\d.]+)\s*([A-Za-z]*)$/.exec(s);
  const d = m === null ? undefined : parseDecimal(m[1] ?? '');
  if (m === null || d === undefined) {
    return quantityError('TESSERA_E_INVALID_QUANTITY', what, input, badString(s), MEMORY_FORMS, field);
  }
  const unit = m[2] ?? '';
  // A bare number in a string means MiB, as a bare JSON number does.
  const bytesPerUnit = unit === '' ? MIB : MEMORY_UNITS[unit];
  if (bytesPerUnit === undefined) {
    const hint = unit === 'm' ? " ('m' would be milli-bytes; for mebibytes write 'Mi')" : '';
    return quantityError(
      'TESSERA_E_INVALID_QUANTITY',
      what,
      input,
      `unknown unit "${unit}"${hint}`,
      MEMORY_FORMS,
      field,
    );
  }
  // Round up: a pod that asked for 512KiB needs at least one whole MiB, never zero.
  const mib = toSafeNumber(ceilDiv(d.num * bytesPerUnit, d.den * MIB));
  if (mib === undefined) {
    return quantityError('TESSERA_E_INVALID_QUANTITY', what, input, 'too large', MEMORY_FORMS, field);
  }
  return ok(mib);
}

/** Parses a duration ('40s', '5m', '1h30m', '250ms', number = ms) into whole milliseconds. */
export function parseDurationMs(input: string | number, field?: string): Result<number> {
  const what = 'duration';
  const code = 'TESSERA_E_INVALID_DURATION';
  if (typeof input === 'number') {
    const bad = badNumber(input);
    if (bad !== undefined) return quantityError(code, what, input, bad, DURATION_FORMS, field);
    if (!Number.isSafeInteger(input)) {
      return quantityError(code, what, input, 'not a whole number of milliseconds', DURATION_FORMS, field);
    }
    return ok(input);
  }
  const s = input.trim();
  if (/^\d+$/.test(s)) {
    const n = toSafeNumber(BigInt(s));
    if (n === undefined) return quantityError(code, what, input, 'too large', DURATION_FORMS, field);
    return ok(n);
  }
  // Go-style compound durations ('1h30m'); 'ms' is tried before 'm' so '250ms' is not 250 minutes.
  const token = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;
  let total: Decimal = { num: 0n, den: 1n };
  let pos = 0;
  while (pos < s.length) {
    token.lastIndex = pos;
    const t = token.exec(s);
    const d = t === null ? undefined : parseDecimal(t[1] ?? '');
    const unitMs = t === null ? undefined : DURATION_UNITS[t[2] ?? ''];
    if (t === null || d === undefined || unitMs === undefined) {
      return quantityError(code, what, input, badString(s), DURATION_FORMS, field);
    }
    total = { num: total.num * d.den + d.num * unitMs * total.den, den: total.den * d.den };
    pos = token.lastIndex;
  }
  if (pos === 0) return quantityError(code, what, input, badString(s), DURATION_FORMS, field);
  if (total.num % total.den !== 0n) {
    return quantityError(code, what, input, 'finer than 1ms', DURATION_FORMS, field);
  }
  const ms = toSafeNumber(total.num / total.den);
  if (ms === undefined) return quantityError(code, what, input, 'too large', DURATION_FORMS, field);
  return ok(ms);
}

/** Memory that a fraction of a GPU carries: floor(milli x memory / 1000), never more than the share. */
export function fractionToMemoryMiB(gpuMilli: number, gpuMemoryMiB: number): number {
  return Math.floor((gpuMilli * gpuMemoryMiB) / MILLI_PER_GPU);
}

/** The compute share a memory request implies on a GPU: ceil(memory x 1000 / GPU memory), at most 1000. */
export function memoryToGpuMilli(memoryMiB: number, gpuMemoryMiB: number): number {
  // A GPU reporting no memory cannot host a memory-sized share: treat it as needing the whole GPU.
  if (gpuMemoryMiB <= 0) return MILLI_PER_GPU;
  return Math.min(MILLI_PER_GPU, Math.ceil((memoryMiB * MILLI_PER_GPU) / gpuMemoryMiB));
}

/** Formats milli-GPU as decimal GPUs: 500 -> '0.5', 2000 -> '2', 1 -> '0.001'. */
export function formatGpuMilli(gpuMilli: number): string {
  const whole = Math.trunc(gpuMilli / MILLI_PER_GPU);
  const frac = Math.abs(gpuMilli % MILLI_PER_GPU);
  const sign = gpuMilli < 0 && whole === 0 ? '-' : '';
  if (frac === 0) return `${sign}${whole}`;
  return `${sign}${whole}.${String(frac).padStart(3, '0').replace(/0+$/, '')}`;
}

/** Formats milli-cores as cores when whole ('2'), else as milli-cores ('500m'). */
export function formatCpuMillis(cpuMillis: number): string {
  return cpuMillis % MILLIS_PER_CPU === 0 ? String(cpuMillis / MILLIS_PER_CPU) : `${cpuMillis}m`;
}

/** Formats MiB as exact GiB when divisible ('20GiB'), else as MiB ('20000MiB'). */
export function formatMemoryMiB(memoryMiB: number): string {
  if (memoryMiB !== 0 && memoryMiB % 1024 === 0) return `${memoryMiB / 1024}GiB`;
  return `${memoryMiB}MiB`;
}

/** Formats milliseconds as a compound duration: 5400000 -> '1h30m', 250 -> '250ms', 0 -> '0s'. */
export function formatDurationMs(ms: number): string {
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.join('');
}

/** The empty resource vector. */
export function zeroRes(): Resources {
  return { gpuMilli: 0, cpuMillis: 0, memoryMiB: 0 };
}

/** Component-wise a + b. */
export function addRes(a: Readonly<Resources>, b: Readonly<Resources>): Resources {
  return {
    gpuMilli: a.gpuMilli + b.gpuMilli,
    cpuMillis: a.cpuMillis + b.cpuMillis,
    memoryMiB: a.memoryMiB + b.memoryMiB,
  };
}

/** Component-wise a - b; may go negative, so check with `fitsRes` first when that matters. */
export function subRes(a: Readonly<Resources>, b: Readonly<Resources>): Resources {
  return {
    gpuMilli: a.gpuMilli - b.gpuMilli,
    cpuMillis: a.cpuMillis - b.cpuMillis,
    memoryMiB: a.memoryMiB - b.memoryMiB,
  };
}

/** True when every component of `a` is within the same component of `b`. */
export function fitsRes(a: Readonly<Resources>, b: Readonly<Resources>): boolean {
  return a.gpuMilli <= b.gpuMilli && a.cpuMillis <= b.cpuMillis && a.memoryMiB <= b.memoryMiB;
}

/** Component-wise r x k, for k pods of the same request; k should be a whole count to keep units whole. */
export function scaleRes(r: Readonly<Resources>, k: number): Resources {
  return { gpuMilli: r.gpuMilli * k, cpuMillis: r.cpuMillis * k, memoryMiB: r.memoryMiB * k };
}

/** What one GPU gives one pod: the scheduler decides it, the agent enforces it. */
export interface GpuGrant {
  uuid: string;
  gpuMilli: number;
  memoryMiB: number;
  /** Dynamic fractions: memory the pod may borrow up to; equals memoryMiB otherwise. */
  memoryLimitMiB: number;
}
