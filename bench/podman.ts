/**
 * Podman start latency: `podman run --rm` of the local test images (test/helpers/images.ts, already
 * in podman's store), timed end to end from spawning the podman client to its exit, one run after
 * another. The figure a container runtime built on podman starts from; timePodmanRuns() is the piece
 * a benchmark comparing the agent with podman reuses.
 *
 *   npx tsx bench/podman.ts [--runs 20]      (or npm run bench -- --only podman)
 */
import { fileURLToPath } from 'node:url';
import { renderTable } from '../sim/report.ts';
import { ensureTestImages } from '../test/helpers/images.ts';
import { podmanRun, podmanUnavailableReason, removeTestContainers } from '../test/helpers/podman.ts';
import { percentile } from './link-report.ts';

/** Options of the podman benchmark, with their defaults. */
export interface PodmanBenchOptions {
  /** Timed runs per image, after one untimed warm-up run. Default 20. */
  runs: number;
}

const DEFAULTS: PodmanBenchOptions = { runs: 20 };

/** One `podman run` to time: the image, the command, and flags before the image. */
export interface PodmanRunSpec {
  image: string;
  command: readonly string[];
  flags?: readonly string[];
}

/**
 * Wall-clock milliseconds of `runs` sequential `podman run --rm` of `spec` (with the run limits every
 * podman run here needs). Throws on a run that exits non-zero: a failed start is not a fast one.
 */
export async function timePodmanRuns(spec: PodmanRunSpec, runs: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = await podmanRun(
      spec.image,
      spec.command,
      spec.flags === undefined ? {} : { flags: spec.flags },
    );
    const ms = performance.now() - t0;
    if (r.exitCode !== 0)
      throw new Error(
        `podman run ${spec.image} ${spec.command.join(' ')} exited ${r.exitCode}: ${r.stderr.trim()}`,
      );
    out.push(ms);
  }
  return out;
}

/** p50, p99, min and max of a set of timings, in ms. */
export function summarize(ms: readonly number[]): { p50: number; p99: number; min: number; max: number } {
  if (ms.length === 0) throw new Error('no timings to summarize');
  return {
    p50: percentile(ms, 50) ?? Number.NaN,
    p99: percentile(ms, 99) ?? Number.NaN,
    min: Math.min(...ms),
    max: Math.max(...ms),
  };
}

/** Prints p50 / p99 / min / max of `podman run --rm` of the test images, with each network mode. */
export async function runPodmanBench(opts: Partial<PodmanBenchOptions> = {}): Promise<void> {
  const o: PodmanBenchOptions = { ...DEFAULTS, ...opts };
  const unavailable = podmanUnavailableReason();
  if (unavailable !== null) {
    console.log(`podman: ${unavailable}`);
    return;
  }
  const images = await ensureTestImages();
  // The network is most of the difference: podman's default bridge (CNI here) sets up a namespace
  // and a veth pair per container; `none` and `host` skip that.
  const specs: { label: string; spec: PodmanRunSpec }[] = [
    { label: 'busybox true', spec: { image: images.busybox, command: ['true'] } },
    {
      label: 'busybox true, --network none',
      spec: { image: images.busybox, command: ['true'], flags: ['--network', 'none'] },
    },
    {
      label: 'busybox true, --network host',
      spec: { image: images.busybox, command: ['true'], flags: ['--network', 'host'] },
    },
    {
      label: 'node -e 0, --network host',
      spec: { image: images.node, command: ['node', '-e', '0'], flags: ['--network', 'host'] },
    },
  ];
  const rows: string[][] = [];
  try {
    for (const { label, spec } of specs) {
      await timePodmanRuns(spec, 1); // warm-up: page cache, podman's first store open
      const s = summarize(await timePodmanRuns(spec, o.runs));
      rows.push([label, String(o.runs), ...[s.p50, s.p99, s.min, s.max].map((v) => v.toFixed(0))]);
    }
  } finally {
    await removeTestContainers();
  }
  console.log(`\npodman run --rm, end to end (${o.runs} sequential runs each, after one warm-up)\n`);
  console.log(renderTable(['image and command', 'runs', 'p50 ms', 'p99 ms', 'min ms', 'max ms'], rows));
}

/** `--runs N` from the command line. */
export function parsePodmanArgs(argv: readonly string[]): Partial<PodmanBenchOptions> {
  const at = argv.indexOf('--runs');
  const runs = at >= 0 ? Number(argv[at + 1]) : Number.NaN;
  return Number.isInteger(runs) && runs > 0 ? { runs } : {};
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runPodmanBench(parsePodmanArgs(process.argv.slice(2)));
}
