/**
 * What finished work costs a running allocator: a fresh allocator's store holding `count` stopped
 * workloads whose specs are `specBytes` of JSON each (written past the validator, as a store from
 * before the spec cap holds them), plus one running workload; then the scheduling cycle and
 * `GET /workloads` are timed. Finished work should cost neither: the cycle reads only live
 * workloads and a list reads one page. Prints figures; it is a benchmark, not a test.
 *
 *   npx tsx bench/finished.ts [--count 40] [--spec-bytes 900000] [--cycles 20]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { startAllocator } from '../allocator/main.ts';
import { openDb } from '../allocator/store/db.ts';
import { createDepartment, createProject, setQuota } from '../allocator/store/org.ts';
import { submitWorkload } from '../allocator/store/workloads.ts';
import { createLogger } from '../common/log.ts';

/** Sizes of a run. */
export interface FinishedBenchOptions {
  count: number;
  specBytes: number;
  cycles: number;
}

/** The figures of a run, in ms. */
export interface FinishedBenchResult {
  cycleMedianMs: number;
  cycleMaxMs: number;
  /** `GET /workloads`: every workload, the stopped ones' large specs included. */
  listMedianMs: number;
  /** `GET /workloads?phase=Pending,Running`: the live ones only. */
  liveListMedianMs: number;
}

const DEFAULTS: FinishedBenchOptions = { count: 40, specBytes: 900_000, cycles: 20 };

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

/** Writes the store: project `archive`, `count` stopped workloads of `specBytes` each, one pending. */
function seed(dataDir: string, o: FinishedBenchOptions): void {
  const db = openDb({ dataDir });
  const t0 = Date.now();
  const must = <T>(r: { ok: true; value: T } | { ok: false; error: { message: string } }): T => {
    if (!r.ok) throw new Error(r.error.message);
    return r.value;
  };
  must(createDepartment(db, 'bench', t0));
  must(createProject(db, 'archive', 'bench', t0));
  must(setQuota(db, 'archive', 'default', { deserved: { gpuMilli: 8000 } }));
  const big = 'x'.repeat(o.specBytes);
  const update = db.prepare("UPDATE workloads SET spec = ?, phase = 'Stopped' WHERE id = ?");
  for (let i = 0; i < o.count; i++) {
    const w = must(
      submitWorkload(
        db,
        { name: `old-${i}`, project: 'archive', type: 'training', command: ['sleep', '1'] },
        t0,
      ),
    );
    update.run(JSON.stringify({ ...w.spec, command: ['python', big] }), w.id);
  }
  must(
    submitWorkload(db, { name: 'live', project: 'archive', type: 'training', command: ['sleep', '1'] }, t0),
  );
  db.close();
}

/** Runs the benchmark once and prints its figures. */
export async function runFinishedBench(
  options: Partial<FinishedBenchOptions> = {},
): Promise<FinishedBenchResult> {
  const o = { ...DEFAULTS, ...options };
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-bench-finished-'));
  try {
    seed(dataDir, o);
    const quiet = new Writable({ write: (_c, _e, done) => done() });
    const alloc = await startAllocator({
      dataDir,
      host: '127.0.0.1',
      port: 0,
      log: createLogger({ stream: quiet }),
      periodicCycleMs: 3_600_000,
    });
    try {
      const token = readFileSync(alloc.adminTokenFile, 'utf8').trim();
      const cycles: number[] = [];
      for (let i = 0; i < o.cycles + 2; i++) {
        await alloc.cycleNow();
        // The first two warm the JIT and the page cache.
        if (i >= 2) cycles.push(alloc.stats().lastCycleMs);
      }
      const timeList = async (query: string): Promise<number> => {
        const times: number[] = [];
        for (let i = 0; i < Math.min(o.cycles, 10); i++) {
          const started = performance.now();
          const res = await fetch(`${alloc.url}/api/v1/workloads${query}`, {
            headers: { authorization: `Bearer ${token}` },
          });
          await res.arrayBuffer();
          times.push(performance.now() - started);
        }
        return median(times);
      };
      const result = {
        cycleMedianMs: median(cycles),
        cycleMaxMs: Math.max(...cycles),
        listMedianMs: await timeList(''),
        liveListMedianMs: await timeList('?phase=Pending,Running'),
      };
      console.log(
        `finished: ${o.count} stopped workloads of ${o.specBytes} bytes: cycle median ${result.cycleMedianMs.toFixed(1)} ms ` +
          `(max ${result.cycleMaxMs.toFixed(1)}); GET /workloads median ${result.listMedianMs.toFixed(1)} ms, ` +
          `?phase=Pending,Running ${result.liveListMedianMs.toFixed(1)} ms`,
      );
      return result;
    } finally {
      await alloc.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function flag(argv: readonly string[], name: string): number | undefined {
  const at = argv.indexOf(name);
  const v = at >= 0 ? Number(argv[at + 1]) : undefined;
  return v !== undefined && Number.isFinite(v) ? v : undefined;
}

/** `--count`, `--spec-bytes` and `--cycles` from the command line. */
export function parseFinishedArgs(argv: readonly string[]): Partial<FinishedBenchOptions> {
  const out: Partial<FinishedBenchOptions> = {};
  const count = flag(argv, '--count');
  const specBytes = flag(argv, '--spec-bytes');
  const cycles = flag(argv, '--cycles');
  if (count !== undefined) out.count = count;
  if (specBytes !== undefined) out.specBytes = specBytes;
  if (cycles !== undefined) out.cycles = cycles;
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runFinishedBench(parseFinishedArgs(process.argv.slice(2)));
}
