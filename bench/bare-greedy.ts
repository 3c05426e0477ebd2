/**
 * The bare greedy loop of the throughput benchmark (bench/throughput.ts): a reference for how fast
 * this machine places pods at all, printed beside the scheduler's figure from the same run.
 */
import type { Snapshot } from '../allocator/scheduler/snapshot.ts';

/** One node's free capacity in the bare loop. */
interface BareNode {
  free: number[];
  cpu: number;
  mem: number;
}

/**
 * The bare greedy loop: the snapshot's pending pods, oldest workload first, placed first-fit on
 * its nodes (a gang whole or not at all) with nothing else: no fair share, quotas, queue order,
 * scoring, statements or plan. It reads the machine's speed at this size, so the scheduler's
 * pods/s can be read against it from the same run on a shared machine.
 */
export function bareGreedy(snapshot: Snapshot): { binds: number; ms: number } {
  const t0 = performance.now();
  const index = new Map<string, number>();
  const nodes: BareNode[] = snapshot.nodes.map((n, i) => {
    index.set(n.name, i);
    return { free: n.gpus.map(() => 1000), cpu: n.cpuMillis, mem: n.memoryMiB };
  });
  const gpuIndex = new Map(snapshot.nodes.map((n) => [n.name, new Map(n.gpus.map((g, i) => [g.uuid, i]))]));
  for (const g of snapshot.groups)
    for (const p of g.pods) {
      const node = nodes[index.get(p.node) ?? -1];
      if (node === undefined) continue;
      node.cpu -= g.request.cpuMillis;
      node.mem -= g.request.memoryMiB;
      for (const gr of p.grants) {
        const k = gpuIndex.get(p.node)?.get(gr.uuid);
        if (k !== undefined) node.free[k] = (node.free[k] ?? 0) - gr.gpuMilli;
      }
    }
  const pending = snapshot.groups.filter((g) => g.pods.length === 0 && g.minMember > 0);
  pending.sort((a, b) => a.createdAtMs - b.createdAtMs || (a.id < b.id ? -1 : 1));
  let first = 0;
  let binds = 0;
  for (const g of pending) {
    const gpu = g.request.gpu;
    const whole = gpu.kind === 'devices' ? gpu.count : 0;
    const milli = gpu.kind === 'fraction' ? gpu.milli : 0;
    const taken: [BareNode, number[]][] = [];
    for (let m = 0; m < g.minMember; m++) {
      let placed = false;
      for (let i = first; i < nodes.length && !placed; i++) {
        const n = nodes[i] as BareNode;
        if (n.cpu < g.request.cpuMillis || n.mem < g.request.memoryMiB) continue;
        const gpus: number[] = [];
        for (let k = 0; k < n.free.length && gpus.length < Math.max(whole, milli > 0 ? 1 : 0); k++)
          if ((n.free[k] ?? 0) >= (whole > 0 ? 1000 : milli)) gpus.push(k);
        if (gpus.length < Math.max(whole, milli > 0 ? 1 : 0)) continue;
        for (const k of gpus) n.free[k] = (n.free[k] ?? 0) - (whole > 0 ? 1000 : milli);
        n.cpu -= g.request.cpuMillis;
        n.mem -= g.request.memoryMiB;
        taken.push([n, gpus]);
        placed = true;
      }
      if (!placed) break;
    }
    if (taken.length < g.minMember) {
      // A gang that does not fit whole takes nothing.
      for (const [n, gpus] of taken) {
        for (const k of gpus) n.free[k] = (n.free[k] ?? 0) + (whole > 0 ? 1000 : milli);
        n.cpu += g.request.cpuMillis;
        n.mem += g.request.memoryMiB;
      }
      continue;
    }
    binds += taken.length;
    while (first < nodes.length && (nodes[first] as BareNode).free.every((f) => f <= 0)) first++;
  }
  return { binds, ms: performance.now() - t0 };
}
