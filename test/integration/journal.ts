/**
 * The test pod's command (fixtures/pod.mjs) and its journal: one line every 50 ms per running copy
 * of a pod, from which a test tells where and when each copy ran and whether two overlapped.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The test pod: journal lines, sim GPU use, a chosen run time and exit code. */
export const POD_FIXTURE = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures/pod.mjs');

/** What a test pod runs for: see fixtures/pod.mjs. */
export interface PodPlan {
  /** Run time in ms; 0 = until stopped. Default 0. */
  ms?: number;
  /** Exit code when done. Default 0. */
  exit?: number;
  /** GPU memory the pod registers on its first GPU; 0 = none. Default 1024. */
  mib?: number;
}

/** The command of a test pod. */
export function podCommand(plan: PodPlan = {}): string[] {
  return [
    process.execPath,
    POD_FIXTURE,
    `--ms=${plan.ms ?? 0}`,
    `--exit=${plan.exit ?? 0}`,
    `--mib=${plan.mib ?? 1024}`,
  ];
}

/** A journal line of a test pod. */
export interface JournalLine {
  podId: string;
  epoch: number;
  node: string;
  pid: number;
  t: number;
  event: 'start' | 'tick' | 'end';
  code?: number;
  signal?: string;
}

/** Where one copy of a pod (one pid of one epoch on one node) ran, from its first to its last line. */
export interface RunInterval {
  podId: string;
  epoch: number;
  node: string;
  pid: number;
  fromMs: number;
  toMs: number;
  ended: boolean;
}

/** Groups journal lines into one interval per copy of a pod. */
export function runIntervals(lines: readonly JournalLine[]): RunInterval[] {
  const byCopy = new Map<string, RunInterval>();
  for (const l of lines) {
    const key = `${l.podId}|${l.epoch}|${l.node}|${l.pid}`;
    const i = byCopy.get(key);
    if (i === undefined) {
      byCopy.set(key, {
        podId: l.podId,
        epoch: l.epoch,
        node: l.node,
        pid: l.pid,
        fromMs: l.t,
        toMs: l.t,
        ended: l.event === 'end',
      });
    } else {
      i.fromMs = Math.min(i.fromMs, l.t);
      i.toMs = Math.max(i.toMs, l.t);
      if (l.event === 'end') i.ended = true;
    }
  }
  return [...byCopy.values()].sort((a, b) => a.fromMs - b.fromMs);
}

/**
 * Every pair of copies of one pod that ran at the same time, described for an assertion message.
 * `sameReplica` says which copies are one pod: by default equal pod ids; a rescheduled pod may come
 * back under a new name (the allocator names each placement anew), so a one-replica workload's test
 * passes `() => true` to count every copy in its journal as the same pod.
 */
export function overlappingCopies(
  lines: readonly JournalLine[],
  sameReplica: (a: RunInterval, b: RunInterval) => boolean = (a, b) => a.podId === b.podId,
): string[] {
  const runs = runIntervals(lines);
  const out: string[] = [];
  for (const [i, a] of runs.entries()) {
    for (const b of runs.slice(i + 1)) {
      if (!sameReplica(a, b)) continue;
      if (a.fromMs < b.toMs && b.fromMs < a.toMs) {
        out.push(
          `${a.podId}: epoch ${a.epoch} on ${a.node} (pid ${a.pid}, ${a.fromMs}..${a.toMs}) overlaps epoch ` +
            `${b.epoch} on ${b.node} (pid ${b.pid}, ${b.fromMs}..${b.toMs}) by ${Math.min(a.toMs, b.toMs) - b.fromMs} ms`,
        );
      }
    }
  }
  return out;
}

/** The lines of the journal file `file` so far (none if it does not exist yet). */
export function readJournalFile(file: string): JournalLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as JournalLine);
}
