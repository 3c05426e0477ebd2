/**
 * The flags of `tessera simulate`, checked once and turned into typed options. Every error names
 * the flag and the values it accepts, and is a usage error (exit 2).
 */
import { POLICY_NAMES, type PolicyName } from '../../sim/fill.ts';
import { DEFAULT_ARRIVAL_SCALE, TIMED_POLICY_NAMES, type TimedPolicyName } from '../../sim/timed.ts';
import { usageError } from '../errors.ts';

/** Simulation modes (docs/architecture.md §9). */
export const MODES = ['fill', 'timed'] as const;
/** Output formats. */
export const OUTPUTS = ['table', 'json'] as const;
/** Our policy, the one to compare the baselines against. */
export const DEFAULT_POLICY = 'fragmentation-aware';
/** The first seed of the FGD paper's runs (42..51). */
export const DEFAULT_SEED = 42;
/** More runs than this is almost surely a typo in a range (`42-5100`). */
const MAX_SEEDS = 1000;

/** The flags as commander hands them over: strings, unchecked. */
export interface RawSimulateFlags {
  nodes: string;
  pods: string;
  mode: string;
  policy: string;
  seeds?: string;
  seed?: string;
  arrivalScale?: string;
  output: string;
}

/** `tessera simulate`'s options, checked. */
export type SimulateOptions =
  | (CommonOptions & { mode: 'fill'; policies: PolicyName[]; seeds: number[] })
  | (CommonOptions & {
      mode: 'timed';
      policies: TimedPolicyName[];
      seed: number;
      /** Creation times are divided by this (runtimes kept): > 1 raises the offered load. */
      arrivalScale: number;
    });

interface CommonOptions {
  nodesFile: string;
  podsFile: string;
  output: (typeof OUTPUTS)[number];
}

/** Parses a seed list: `42`, `42-51`, or a comma-separated mix (`42,45,50-51`), in the order written. */
export function parseSeeds(text: string, flag: string): number[] {
  const accepted = `${flag} takes a seed (42), a range (42-51) or a comma-separated list of both (42,45,50-51), each a whole number from 0 to ${0xffffffff}`;
  const seeds: number[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    const lo = Number(m?.[1]);
    const hi = m?.[2] === undefined ? lo : Number(m[2]);
    if (m === null || !(lo <= hi) || hi > 0xffffffff) {
      throw usageError(flag, `${flag} '${text}' is not valid: ${accepted}`);
    }
    if (seeds.length + (hi - lo + 1) > MAX_SEEDS) {
      throw usageError(flag, `${flag} '${text}' asks for more than ${MAX_SEEDS} runs; ${accepted}`);
    }
    for (let s = lo; s <= hi; s++) if (!seeds.includes(s)) seeds.push(s);
  }
  return seeds;
}

/** A plain decimal: `50`, `2.5`, `.5`. No sign, exponent, hex or `Infinity`. */
const DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

/** Parses `--arrival-scale`: a positive decimal number (`1` keeps the trace's times, `100` compresses them 100x). */
export function parseArrivalScale(text: string): number {
  const trimmed = text.trim();
  const k = DECIMAL.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!(Number.isFinite(k) && k > 0)) {
    throw usageError(
      '--arrival-scale',
      `--arrival-scale '${text}' is not valid: it takes a positive number (such as 1, 2.5 or 100) that creation times are divided by, runtimes unchanged; default ${DEFAULT_ARRIVAL_SCALE}`,
    );
  }
  return k;
}

/** Parses `--policy`: one name, a comma-separated list, or `all` (every name in `accepted`). */
export function parsePolicies<T extends string>(text: string, accepted: readonly T[]): T[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length === 1 && names[0] === 'all') return [...accepted];
  const unknown = names.filter((n) => !(accepted as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0) {
    const what = names.length === 0 ? 'is empty' : `'${unknown.join("', '")}' is not a policy`;
    throw usageError(
      '--policy',
      `--policy ${what}; accepted: ${accepted.join(', ')}, a comma-separated list of them, or all`,
    );
  }
  return [...new Set(names)] as T[];
}

/** Checks the raw flags and returns typed options, or throws a usage error naming the flag. */
export function parseSimulateOptions(raw: RawSimulateFlags): SimulateOptions {
  const output = OUTPUTS.find((o) => o === raw.output);
  if (output === undefined)
    throw usageError('--output', `--output '${raw.output}' is not one of ${OUTPUTS.join(', ')}`);
  const common: CommonOptions = { nodesFile: raw.nodes, podsFile: raw.pods, output };

  if (raw.mode === 'timed') {
    const arrivalScale =
      raw.arrivalScale === undefined ? DEFAULT_ARRIVAL_SCALE : parseArrivalScale(raw.arrivalScale);
    const flag = raw.seeds !== undefined ? '--seeds' : '--seed';
    const text = raw.seeds ?? raw.seed;
    const seeds = text === undefined ? [DEFAULT_SEED] : parseSeeds(text, flag);
    if (seeds.length !== 1) {
      throw usageError(
        flag,
        `${flag} '${text}': --mode timed takes one seed (--seed N): the trace's times fix the order and only the random policy draws`,
      );
    }
    return {
      ...common,
      mode: 'timed',
      policies: parsePolicies(raw.policy, TIMED_POLICY_NAMES),
      seed: seeds[0]!,
      arrivalScale,
    };
  }
  if (raw.mode !== 'fill')
    throw usageError('--mode', `--mode '${raw.mode}' is not one of ${MODES.join(', ')}`);
  if (raw.arrivalScale !== undefined) {
    throw usageError(
      '--arrival-scale',
      `--arrival-scale applies to --mode timed only: fill mode drops the trace's times`,
    );
  }

  const seeds =
    raw.seeds !== undefined
      ? parseSeeds(raw.seeds, '--seeds')
      : raw.seed !== undefined
        ? parseSeeds(raw.seed, '--seed')
        : [DEFAULT_SEED];
  if (raw.seed !== undefined && seeds.length !== 1) {
    throw usageError('--seed', `--seed takes one seed (42); use --seeds for a range or list`);
  }
  return { ...common, mode: 'fill', policies: parsePolicies(raw.policy, POLICY_NAMES), seeds };
}
