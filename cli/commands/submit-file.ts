/**
 * `tessera submit -f workload.yaml`: the file is the spec as `POST /workloads` takes it, and the
 * command line's arguments and flags override its fields. A flag that sets one of several exclusive
 * spellings (`--gpu` over a file's `gpuFraction`, `--memory` over `memoryMiB`) removes the file's
 * others, so the override wins instead of colliding in the validator.
 */
import { tesseraError } from '../../common/errors.ts';
import { EXCLUSIVE_GROUPS, isRecord } from '../../common/policy-fields.ts';
import { failure } from '../errors.ts';
import type { SubmitBody } from './submit-body.ts';

/** `file` (a parsed document) with `overrides` (what the command line set) laid over it. */
export function mergeSubmitFile(
  file: unknown,
  path: string,
  overrides: Partial<SubmitBody>,
): Record<string, unknown> {
  if (!isRecord(file))
    throw failure(
      tesseraError(
        'TESSERA_E_INVALID_SPEC',
        `${path}: expected a workload spec object (name, project, type, command ...)`,
        {
          field: '-f',
        },
      ),
    );
  const out: Record<string, unknown> = structuredClone(file);
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined || key === 'resources' || key === 'env') continue;
    out[key] = value;
  }
  if (overrides.env !== undefined) out.env = { ...(isRecord(out.env) ? out.env : {}), ...overrides.env };
  if (overrides.resources !== undefined) {
    const resources: Record<string, unknown> = isRecord(out.resources) ? { ...out.resources } : {};
    for (const [key, value] of Object.entries(overrides.resources)) {
      const group = EXCLUSIVE_GROUPS.find((g) => g.includes(`resources.${key}`)) ?? [];
      for (const other of group) delete resources[other.slice('resources.'.length)];
      resources[key] = value;
    }
    out.resources = resources;
  }
  return out;
}
