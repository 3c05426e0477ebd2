/**
 * A worker of the quality benchmark (bench/quality.ts): parses the trace once, then runs the fill
 * replays the main thread hands it, one (policy, seed) at a time, and posts each result back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type PolicyName, runFill } from '../sim/fill.ts';
import { readTraceNodes, readTracePods } from '../sim/trace.ts';

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
  port.on('message', (job: QualityJob | null) => {
    if (job === null) {
      port.close();
      return;
    }
    const t0 = performance.now();
    const r = runFill({ nodes: nodes.value, pods: pods.value, policy: job.policy, seed: job.seed });
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
