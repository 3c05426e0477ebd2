/**
 * `<dataDir>/swap-pool.json`: the swap pool's entries, rewritten durably on every change, so that a
 * restarted agent takes back the pods it left swapped out. Such a pod's processes stay checkpointed
 * when the agent stops (their GPU memory in host RAM, every CUDA call blocked) and no GPU sample shows
 * them: without this record the next agent would see a pod using no GPU memory, and never swap it in.
 *
 * Each pid is recorded with its start time, so a recycled pid is never taken for the pod's process.
 * At start (`openSwapPool`) `readoptSwapped` keeps only what still holds: the pod is running (the
 * runner adopted it), each pid is the same live process, and the driver says it is checkpointed where
 * the driver can tell.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { ok, type Result } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { readJsonRecord, writeJsonDurable } from './durable-json.ts';
import { createSwapPool, type SwapControl, type SwapEntry, type SwapPool } from './enforce/index.ts';
import type { CheckpointState, GpuDriver } from './gpu/index.ts';
import { isLiveProcess, processStartTime } from './runner/index.ts';

/** The format this agent writes and reads. */
export const SWAP_FILE_VERSION = 1;

/** One checkpointed process; `startTimeTicks` null when it was already gone as the record was written. */
export interface SwappedPid {
  pid: number;
  startTimeTicks: number | null;
}

/** One pod in the pool as recorded: its processes, and the MiB it held per GPU (what a swap-in needs room for). */
export interface SwapRecord {
  podId: string;
  pids: SwappedPid[];
  usedMiB: number;
  perGpuMiB: Record<string, number>;
  reason: string;
  sinceMs: number;
}

/** Where the record lives under the agent's data dir. */
export function swapFilePath(dataDir: string): string {
  return join(dataDir, 'swap-pool.json');
}

/** The pool's entries as records, each pid with its start time read from /proc now. */
export function toSwapRecords(
  entries: readonly SwapEntry[],
  startTime: (pid: number) => number | null = processStartTime,
): SwapRecord[] {
  return entries.map((e) => ({
    podId: e.podId,
    pids: e.pids.map((pid) => ({ pid, startTimeTicks: startTime(pid) })),
    usedMiB: e.usedMiB,
    perGpuMiB: { ...e.perGpuMiB },
    reason: e.reason,
    sinceMs: e.sinceMs,
  }));
}

/** Replaces the record durably (fsynced: losing it strands a checkpointed pod). */
export function writeSwapFile(dataDir: string, records: readonly SwapRecord[]): Result<void> {
  const file = { version: SWAP_FILE_VERSION, entries: records };
  return writeJsonDurable(swapFilePath(dataDir), file, 'swap pool record');
}

const nonNegInt = z.number().int().nonnegative();
const SwapFileSchema = z.object({
  version: z.literal(SWAP_FILE_VERSION),
  entries: z.array(
    z.object({
      podId: z.string().min(1),
      pids: z.array(z.object({ pid: z.number().int().positive(), startTimeTicks: nonNegInt.nullable() })),
      usedMiB: z.number().nonnegative(),
      perGpuMiB: z.record(z.string(), z.number().nonnegative()),
      reason: z.string(),
      sinceMs: z.number(),
    }),
  ),
});

/**
 * Reads the record: none yet is an empty list. A file that is not the expected shape is moved aside
 * to `<path>.corrupt-<ms>` and reported as an error saying what that means for the pods it named, as
 * a corrupt runner checkpoint is: the agent does not start over it, and the next start goes on
 * without it.
 */
export function readSwapFile(dataDir: string, now: () => number = Date.now): Result<SwapRecord[]> {
  const read = readJsonRecord(swapFilePath(dataDir), SwapFileSchema, {
    what: 'swap pool record',
    consequence:
      '. Pods it named may still be checkpointed: ' +
      'find them with `cuda-checkpoint --get-state --pid P` and restore them with `cuda-checkpoint --toggle --pid P`',
    now,
  });
  if (!read.ok) return read;
  return ok(read.value?.entries ?? []);
}

/** What `readoptSwapped` checks each record against. */
export interface ReadoptChecks {
  /** Whether the runner adopted the pod and it is live. */
  podLive(podId: string): boolean;
  /** Whether `pid` is still the process that started at `startTimeTicks` (and no zombie). */
  isLive(pid: number, startTimeTicks: number): boolean;
  /** The driver's checkpoint state; an error means it cannot tell, and the pid is kept. */
  checkpointState(pid: number): Promise<Result<CheckpointState>>;
}

/** An event of the re-adoption, for the agent's ring. */
export interface ReadoptEvent {
  kind: 'swap-adopted' | 'swap-not-adopted';
  podId: string;
  reason: string;
  usedMiB: number;
}

/** What a restarted agent takes back into its pool, and what it says about each record. */
export interface Readoption {
  adopted: SwapEntry[];
  events: ReadoptEvent[];
}

/** Why one recorded pid is not taken back; null when it is (still the same process, checkpointed or unknown). */
async function pidProblem(p: SwappedPid, checks: ReadoptChecks): Promise<string | null> {
  if (p.startTimeTicks === null || !checks.isLive(p.pid, p.startTimeTicks))
    return `pid ${p.pid} is gone or names another process now`;
  const state = await checks.checkpointState(p.pid);
  if (!state.ok || state.value === 'checkpointed') return null;
  if (state.value === 'locked') {
    // Cut between a swap's steps: on the GPU but blocked. Only a human can tell which way it went.
    return `pid ${p.pid} is locked, not checkpointed: resume it with \`cuda-checkpoint --action unlock --pid ${p.pid}\``;
  }
  return `pid ${p.pid} is ${state.value}, not checkpointed`;
}

/**
 * Checks each record against the node as it is now: a pod no longer running, or none of whose pids
 * is still checkpointed, is stale and dropped; pids that fail are dropped from an entry that keeps
 * others. With swap off (`poolEnabled` false) nothing is taken back, and each pod is reported as
 * stranded so that a human, or an agent started with a pool, swaps it back in.
 */
export async function readoptSwapped(
  records: readonly SwapRecord[],
  checks: ReadoptChecks,
  poolEnabled: boolean,
): Promise<Readoption> {
  const out: Readoption = { adopted: [], events: [] };
  for (const r of records) {
    const note = (kind: ReadoptEvent['kind'], reason: string): void => {
      out.events.push({ kind, podId: r.podId, reason, usedMiB: r.usedMiB });
    };
    if (!poolEnabled) {
      note(
        'swap-not-adopted',
        `pod ${r.podId} was left swapped out by the previous agent, but swap is off on this one: ` +
          'its processes stay checkpointed until an agent started with --swap-pool swaps it in',
      );
      continue;
    }
    if (!checks.podLive(r.podId)) {
      note('swap-not-adopted', `stale swap entry dropped: pod ${r.podId} is no longer running`);
      continue;
    }
    const kept: number[] = [];
    const problems: string[] = [];
    for (const p of r.pids) {
      const problem = await pidProblem(p, checks);
      if (problem === null) kept.push(p.pid);
      else problems.push(problem);
    }
    if (kept.length === 0) {
      note(
        'swap-not-adopted',
        `stale swap entry dropped: pod ${r.podId}: ${problems.join('; ') || 'no pids'}`,
      );
      continue;
    }
    out.adopted.push({ ...r, pids: kept, perGpuMiB: { ...r.perGpuMiB } });
    const dropped = problems.length === 0 ? '' : ` (${problems.join('; ')})`;
    note(
      'swap-adopted',
      `pod ${r.podId} is still swapped out (${r.usedMiB} MiB, pids ${kept.join(' ')}): taken back into the pool${dropped}`,
    );
  }
  return out;
}

/** What `openSwapPool` needs. */
export interface OpenSwapPoolOptions {
  dataDir: string;
  /** Host RAM for the pool; 0 = swap off: no pool, and a record an earlier agent left is kept as it is. */
  capacityMiB: number;
  /** Swaps, and tells a process's checkpoint state (a GpuDriver is both). */
  driver: SwapControl & Pick<GpuDriver, 'checkpointState'>;
  /** Pods the runner adopted that are live: a swapped-out pod can only be one of them. */
  livePods: ReadonlySet<string>;
  now: () => number;
  log: Logger;
}

/**
 * The agent's swap pool over its record: every change rewritten to it, and what the last agent left
 * swapped out taken back before the first sample, since outside the pool such a pod would pass for a
 * tenant using nothing, its request free for others to take. The events say what was taken back.
 */
export async function openSwapPool(
  o: OpenSwapPoolOptions,
): Promise<Result<{ pool: SwapPool | undefined; events: ReadoptEvent[] }>> {
  const record = (entries: SwapEntry[]): void => {
    const r = writeSwapFile(o.dataDir, toSwapRecords(entries));
    if (!r.ok)
      o.log.error(
        'swap pool record not written: a restarted agent would not know these pods are swapped out',
        {
          error: r.error.message,
        },
      );
  };
  const pool =
    o.capacityMiB > 0
      ? createSwapPool({ capacityMiB: o.capacityMiB, control: o.driver, now: o.now, onChange: record })
      : undefined;
  const recorded = readSwapFile(o.dataDir, o.now);
  if (!recorded.ok) return recorded;
  const readoption = await readoptSwapped(
    recorded.value,
    {
      podLive: (podId) => o.livePods.has(podId),
      isLive: (pid, startTimeTicks) => isLiveProcess(pid, startTimeTicks),
      checkpointState: (pid) => o.driver.checkpointState(pid),
    },
    pool !== undefined,
  );
  for (const entry of readoption.adopted) pool?.adopt(entry);
  // Dropped entries leave the record now; with swap off it stays as it is, for an agent with a pool.
  if (pool !== undefined && recorded.value.length > 0) record(pool.entries());
  return ok({ pool, events: readoption.events });
}
