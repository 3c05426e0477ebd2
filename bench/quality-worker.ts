/**
 * A worker of the quality benchmark (bench/quality.ts): parses the trace once, then runs the fill
 * replays the main thread hands it, one (policy, seed) at a time, and posts each result back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type PolicyName, runFill } from '../sim/fill.ts';
import { readTraceNodes, readTracePods, type TracePod } from '../sim/trace.ts';
import { type VariantName, variantPods } from '../sim/variants.ts';

/** What the main thread passes when it starts a worker. */
export interface QualityWorkerData {
  nodesCsv: string;
  podsCsv: string;
  nodesFile: string;
  podsFile: string;
}

/** One replay to run. */
export interface QualityJob {
  policy: PolicyName;
  seed: number;
  /** The trace variant (sim/variants.ts) to replay; the trace itself when absent. */
  variant?: VariantName;
}

/** What one replay measured. */
export interface QualityJobResult extends QualityJob {
  unallocatedPctAt100: number;
  fragmentedPctAt100: number;
  ms: number;
}

const port = parentPort;
if (port !== null) {
  const data = workerData as QualityWorkerData;
  const nodes = readTraceNodes(data.nodesCsv, data.nodesFile);
  const pods = readTracePods(data.podsCsv, data.podsFile);
  if (!nodes.ok) throw new Error(nodes.error.message);
  if (!pods.ok) throw new Error(pods.error.message);
  // Each variant is built once per worker, on its first job.
  const built = new Map<VariantName, TracePod[]>();
  const podsOf = (v: VariantName): TracePod[] => {
    let p = built.get(v);
    if (p === undefined) {
      p = variantPods(v, pods.value, nodes.value);
      built.set(v, p);
    }
    return p;
  };
  port.on('message', (job: QualityJob | null) => {
    if (job === null) {
      port.close();
      return;
    }
    const t0 = performance.now();
    const r = runFill({
      nodes: nodes.value,
      pods: podsOf(job.variant ?? 'default'),
      policy: job.policy,
      seed: job.seed,
    });
    const result: QualityJobResult = {
      ...job,
      unallocatedPctAt100: r.unallocatedPctAt100,
      fragmentedPctAt100: r.curve[100]?.fragmentedPct ?? Number.NaN,
      ms: performance.now() - t0,
    };
    port.postMessage(result);
  });
  port.postMessage('ready');
}
