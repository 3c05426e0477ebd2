/**
 * Writes examples/traces/{nodes,pods}.csv: a small synthetic cluster and workload in the Alibaba
 * 2023 trace format, so `tessera simulate` has something to replay on a fresh clone (the real
 * traces live outside the product). Deterministic: run it again and the files are identical.
 *
 *   npx tsx scripts/make-example-trace.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { SeededRng } from '../sim/rng.ts';

const rng = new SeededRng(7);
const pick = <T>(items: readonly T[]): T => items[Math.floor(rng.float64() * items.length)] as T;

const nodes = ['sn,cpu_milli,memory_mib,gpu,model'];
let gpus = 0;
for (let i = 0; i < 48; i++) {
  const [count, model] = pick([
    [8, 'V100M32'],
    [8, 'A10'],
    [4, 'T4'],
    [2, 'T4'],
    [2, 'P100'],
  ] as const);
  gpus += count;
  nodes.push(
    `example-node-${String(i).padStart(3, '0')},${count * 12000},${count * 98304},${count},${model}`,
  );
}

const pods = [
  'name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time',
];
let t = 0;
for (let i = 0; i < 800; i++) {
  t += Math.floor(rng.float64() * 120);
  const roll = rng.float64();
  const [numGpu, milli] =
    roll < 0.13
      ? [0, 0]
      : roll < 0.5
        ? [1, pick([250, 500, 300, 750])]
        : roll < 0.98
          ? [1, 1000]
          : [pick([2, 4, 8]), 1000];
  const cpu = numGpu === 0 ? 4000 : Math.max(2000, Math.round((numGpu * milli * 8) / 1000) * 1000);
  const life = Math.floor(300 + rng.float64() * rng.float64() * 20000);
  pods.push(
    `example-pod-${String(i).padStart(4, '0')},${cpu},${cpu * 4},${numGpu},${milli},,LS,Succeeded,${t},${t + life},${t}`,
  );
}

mkdirSync(new URL('../examples/traces/', import.meta.url), { recursive: true });
writeFileSync(new URL('../examples/traces/nodes.csv', import.meta.url), `${nodes.join('\n')}\n`);
writeFileSync(new URL('../examples/traces/pods.csv', import.meta.url), `${pods.join('\n')}\n`);
process.stdout.write(`wrote 48 nodes (${gpus} GPUs) and 800 pods to examples/traces/\n`);
