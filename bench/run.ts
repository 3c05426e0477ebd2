/**
 * `npm run bench`: the quality benchmark (placement quality, bench/quality.ts), the throughput
 * benchmark (bench/throughput.ts) and the agent benchmark (idle cost, kill latency; bench/agent.ts) and the link benchmark (agents over
 * websockets; bench/link.ts, flags `--agents 1000,5000 --window-s 20 --pods 2000`) and the finished-work
 * benchmark (what stopped workloads cost a cycle and a list; bench/finished.ts, flags `--count 40
 * --spec-bytes 900000`) and the podman benchmark (`podman run --rm` start latency of the test images;
 * bench/podman.ts, flag `--runs 20`; skipped, saying why, without podman or root) and the containers
 * benchmark (pod start latency through the runner against `podman run -d`, agent RSS and CPU with
 * container pods; bench/containers.ts, flags `--runs 20 --ctr-pods 8 --ctr-window-s 30`; skipped,
 * saying why, without podman or root).
 * And the cycle benchmark (what a scheduling cycle stalls the event loop, inline against the
 * allocator's scheduler thread; bench/cycle.ts, flags `--nodes 1000,5000,10000 --runs 3`).
 * `--only quality|throughput|cycle|agent|link|finished|podman|containers` runs one of them.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAgentArgs, runAgentBench } from './agent.ts';
import { parseContainersArgs, runContainersBench } from './containers.ts';
import { parseCycleArgs, runCycleBench } from './cycle.ts';
import { parseFinishedArgs, runFinishedBench } from './finished.ts';
import { parseLinkArgs, runLinkBench } from './link.ts';
import { parsePodmanArgs, runPodmanBench } from './podman.ts';
import { runThroughputBench } from './throughput.ts';

type BenchName = 'quality' | 'throughput' | 'cycle' | 'agent' | 'link' | 'finished' | 'podman' | 'containers';
const BENCHES: readonly BenchName[] = [
  'quality',
  'throughput',
  'cycle',
  'agent',
  'link',
  'finished',
  'podman',
  'containers',
];

function isBench(s: string): s is BenchName {
  return (BENCHES as readonly string[]).includes(s);
}

/** The quality benchmark, loaded only when its file exists (it is written separately). */
async function runQuality(): Promise<void> {
  const url = new URL('./quality.ts', import.meta.url);
  if (!existsSync(fileURLToPath(url))) {
    console.log('quality: skipped, bench/quality.ts is not there yet');
    return;
  }
  // A present but broken quality.ts fails the run: never skip silently over an error.
  const mod: unknown = await import(url.href);
  const run = (mod as { runQualityBench?: unknown }).runQualityBench;
  if (typeof run !== 'function') throw new Error('bench/quality.ts does not export runQualityBench()');
  await (run as () => Promise<void>)();
}

async function main(argv: readonly string[]): Promise<void> {
  const at = argv.indexOf('--only');
  const only = at >= 0 ? argv[at + 1] : undefined;
  if (only !== undefined && !isBench(only)) throw new Error(`--only must be one of ${BENCHES.join(', ')}`);
  if (only === undefined || only === 'quality') await runQuality();
  if (only === undefined || only === 'throughput') await runThroughputBench();
  if (only === undefined || only === 'cycle') await runCycleBench(parseCycleArgs(argv));
  if (only === undefined || only === 'agent') await runAgentBench(parseAgentArgs(argv));
  if (only === undefined || only === 'link') await runLinkBench(parseLinkArgs(argv));
  if (only === undefined || only === 'finished') await runFinishedBench(parseFinishedArgs(argv));
  if (only === undefined || only === 'podman') await runPodmanBench(parsePodmanArgs(argv));
  if (only === undefined || only === 'containers') await runContainersBench(parseContainersArgs(argv));
}

await main(process.argv.slice(2));
