/**
 * Why nothing in a pool fits a request, in words a user can act on: which filter emptied the
 * pool (model, node type), what the best candidate has against what was asked, and how many
 * nodes are cordoned. Not on the hot path: it scans the pool.
 */
import { formatCpuMillis, formatGpuMilli, formatMemoryMiB } from '../../../common/resources.ts';
import { gpuShapeOf, gpusFit, isFullyFree, modelAllowed, runtimeAdmits } from './fit.ts';
import type { NodeState, PlacementRequest } from './types.ts';

function argmax<T>(items: readonly T[], value: (t: T) => number): { item: T; value: number } | null {
  let best: { item: T; value: number } | null = null;
  for (const it of items) {
    const v = value(it);
    if (best === null || v > best.value) best = { item: it, value: v };
  }
  return best;
}

/** The reason `req` fits no node of `pool` (nodes of other pools are ignored). */
export function explainNoFit(nodes: readonly NodeState[], pool: string, req: PlacementRequest): string {
  const inPool = nodes.filter((n) => n.pool === pool).sort((a, b) => (a.name < b.name ? -1 : 1));
  if (inPool.length === 0) return `node pool "${pool}" has no nodes`;
  const cordoned = inPool.filter((n) => !n.schedulable).length;
  const tail = cordoned > 0 ? `; ${cordoned} node${cordoned === 1 ? '' : 's'} cordoned` : '';
  let open = inPool.filter((n) => n.schedulable);
  if (open.length === 0) return `every node in pool "${pool}" is cordoned (${cordoned})`;
  if (req.needsContainer === true) {
    open = open.filter((n) => runtimeAdmits(n, req));
    if (open.length === 0)
      return `no node in pool "${pool}" runs containers, and the workload has an image: start agents there with --runtime container (Debian's podman and runc)${tail}`;
  }
  if (req.nodeTypes.length > 0) {
    open = open.filter((n) => req.nodeTypes.includes(n.nodeType));
    if (open.length === 0)
      return `no node in pool "${pool}" has node type ${req.nodeTypes.join(' or ')}${tail}`;
  }
  const shape = gpuShapeOf(req);
  if (shape !== 'none' && req.gpuModels.length > 0) {
    open = open.filter((n) => n.gpus.some((g) => modelAllowed(g.model, req.gpuModels)));
    if (open.length === 0)
      return `no node in pool "${pool}" has GPU model ${req.gpuModels.join(' or ')}${tail}`;
  }
  if (shape !== 'none' && !open.some((n) => gpusFit(n, req))) {
    if (shape === 'whole') {
      const best = argmax(
        open,
        (n) => n.gpus.filter((g) => isFullyFree(g) && modelAllowed(g.model, req.gpuModels)).length,
      );
      const most = best === null ? 0 : best.value;
      const where = best === null || most === 0 ? '' : ` on ${best.item.name}`;
      const capable = open.some((n) => n.gpus.filter((g) => g.healthy).length >= req.gpuCount);
      const why = capable ? '' : ` (no node has ${req.gpuCount} healthy GPUs at all)`;
      return `no node in pool "${pool}" has ${req.gpuCount} free whole GPUs (largest free: ${most}${where})${why}${tail}`;
    }
    const gpus = open.flatMap((n) =>
      n.gpus.filter((g) => g.healthy && modelAllowed(g.model, req.gpuModels)).map((g) => ({ n, g })),
    );
    const best = argmax(gpus, (x) => x.g.freeMilli);
    const asked =
      shape === 'milli'
        ? `${formatGpuMilli(req.gpuMilli)} GPU`
        : `${formatMemoryMiB(req.gpuMemoryMiB)} of GPU memory`;
    const largest =
      best === null
        ? 'no healthy GPU'
        : `largest free share: ${formatGpuMilli(best.item.g.freeMilli)} GPU / ${formatMemoryMiB(best.item.g.freeMemoryMiB)} on ${best.item.n.name} GPU ${best.item.g.index}`;
    return `no GPU in pool "${pool}" has ${asked} free (${largest})${tail}`;
  }
  const gpuOk = shape === 'none' ? open : open.filter((n) => gpusFit(n, req));
  const portOk = gpuOk.filter((n) => n.portsFree >= req.ports);
  if (gpuOk.length > 0 && portOk.length === 0) {
    const most = argmax(gpuOk, (n) => n.portsFree);
    const where = most === null || most.value <= 0 ? '' : ` on ${most.item.name}`;
    const none = gpuOk.every((n) => n.portCount === 0)
      ? ': their agents report no port range (start them with --port-range, or upgrade them)'
      : '';
    return `no node in pool "${pool}" with the GPUs free has ${req.ports} free host port${req.ports === 1 ? '' : 's'} for the pod's named ports (most: ${Math.max(0, most?.value ?? 0)}${where})${none}${tail}`;
  }
  const cpu = argmax(portOk, (n) => n.cpuFreeMillis);
  if (cpu !== null && cpu.value < req.cpuMillis) {
    return `no node in pool "${pool}" with the GPUs free has ${formatCpuMillis(req.cpuMillis)} CPU free (most: ${formatCpuMillis(cpu.value)} on ${cpu.item.name})${tail}`;
  }
  const cpuOk = portOk.filter((n) => n.cpuFreeMillis >= req.cpuMillis);
  const mem = argmax(cpuOk, (n) => n.memoryFreeMiB);
  if (mem !== null && mem.value < req.memoryMiB) {
    return `no node in pool "${pool}" with the GPUs and CPU free has ${formatMemoryMiB(req.memoryMiB)} memory free (most: ${formatMemoryMiB(mem.value)} on ${mem.item.name})${tail}`;
  }
  // Each resource fits somewhere but never all on one node.
  const gpuInfo =
    shape === 'whole' ? `, ${req.gpuCount} whole GPUs` : shape === 'none' ? '' : ', the GPU share';
  return `no single node in pool "${pool}" has ${formatCpuMillis(req.cpuMillis)} CPU, ${formatMemoryMiB(req.memoryMiB)} memory${gpuInfo} free together${tail}`;
}
