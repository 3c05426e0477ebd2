/**
 * `<data>/guard-fenced.json`: the pods the fence guard (agent/fence-guard.mjs) killed while the agent
 * was unresponsive, as `[{podId, epoch, atMs}]`. The runner reads it when a pod ends without a reason
 * of its own, so the pod is reported as `lease lost` (the allocator replaces it elsewhere,
 * allocator/lifecycle/reports.ts `isFenceStop`) and not as a failure of its workload.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The file's name under the agent's data dir (agent/fence-guard.mjs writes the same name). */
export const GUARD_FENCED_FILE = 'guard-fenced.json';

/** The reason of a pod the guard stopped; starts with `lease lost` on purpose (see above). */
export const REASON_GUARD_FENCED = 'lease lost: the fence guard stopped it while the agent was unresponsive';

/** One pod the guard killed. */
export interface GuardFenced {
  podId: string;
  epoch: number;
  atMs: number;
}

/** `<dataDir>/guard-fenced.json`. */
export function guardFencedPath(dataDir: string): string {
  return join(dataDir, GUARD_FENCED_FILE);
}

/** The records of a parsed file; anything not of the expected shape is dropped, never thrown over. */
export function parseGuardFenced(raw: unknown): GuardFenced[] {
  if (!Array.isArray(raw)) return [];
  const out: GuardFenced[] = [];
  for (const r of raw as unknown[]) {
    if (typeof r !== 'object' || r === null) continue;
    const { podId, epoch, atMs } = r as Record<string, unknown>;
    if (typeof podId === 'string' && Number.isSafeInteger(epoch) && typeof atMs === 'number') {
      out.push({ podId, epoch: epoch as number, atMs });
    }
  }
  return out;
}

/** Reads the file; no file, or one that cannot be read or parsed, is no record. */
export function readGuardFenced(path: string): GuardFenced[] {
  try {
    return parseGuardFenced(JSON.parse(readFileSync(path, 'utf8')));
  } catch {
    // Absent is the normal case; a torn file cannot happen (the guard renames into place).
    return [];
  }
}

/**
 * The reason a pod ended, given the agent's own (`ownReason`, wins), the guard's records and what the
 * exit says otherwise (`fallback`): the guard's when it killed this pod id at this epoch.
 */
export function endReason<F extends string | null>(
  pod: { podId: string; epoch: number },
  ownReason: string | null,
  records: readonly GuardFenced[],
  fallback: F,
): string | F {
  if (ownReason !== null) return ownReason;
  const byGuard = records.some((r) => r.podId === pod.podId && r.epoch === pod.epoch);
  return byGuard ? REASON_GUARD_FENCED : fallback;
}
