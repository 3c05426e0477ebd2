// @ts-check
/**
 * The cluster at a glance: totals, each node with its GPUs' allocation and use, and the workloads
 * by phase. Nodes need `read-nodes`: a caller without it gets 403, and the page says so and still
 * shows what it may see.
 */
import { ApiError, request, requestList } from '../api.js';
import { WORKLOAD_PHASES } from '../constants.js';
import * as fmt from '../format.js';
import { live } from '../live.js';
import { badge, fill, h, meter, section, table } from '../render.js';
import { hashOf } from '../router.js';

/** @typedef {import('../types.js').NodeView} NodeView */
/** @typedef {import('../types.js').TopView} TopView */
/** @typedef {import('../types.js').TopNode} TopNode */
/** @typedef {import('../types.js').WorkloadView} WorkloadView */
/** @typedef {{ nodes: NodeView[] | null, top: TopView, workloads: WorkloadView[] }} Data */

/** The node's state in one word, worst first: a lost node is lost whatever else is true. @param {NodeView} n */
export function nodeState(n) {
  if (n.lost) return 'lost';
  if (n.cordoned) return 'cordoned';
  if (!n.schedulable) return 'unschedulable';
  return 'ready';
}

/** A node's GPUs allocated (fractions summed), mean utilization and memory, from `/top`. @param {TopNode | undefined} t */
export function nodeUse(t) {
  const gpus = t?.gpus ?? [];
  const allocated = gpus.reduce((a, g) => a + g.pods.reduce((b, p) => b + p.fraction, 0), 0);
  const utils = gpus.map((g) => g.utilizationPct).filter((u) => u !== null);
  const used = gpus.map((g) => g.memoryUsedMiB).filter((m) => m !== null);
  return {
    allocated,
    util: utils.length === 0 ? null : utils.reduce((a, u) => a + u, 0) / utils.length,
    memUsed: used.length === 0 ? null : used.reduce((a, m) => a + m, 0),
    memTotal: gpus.reduce((a, g) => a + g.memoryTotalMiB, 0),
    gpus,
  };
}

/** "2 × H100-80GB", or each model when a node mixes them. @param {NodeView} n */
export function gpuModels(n) {
  if (n.gpus.length === 0) return 'no GPUs';
  const counts = /** @type {Map<string, number>} */ (new Map());
  for (const g of n.gpus) counts.set(g.model, (counts.get(g.model) ?? 0) + 1);
  return [...counts].map(([model, count]) => `${count} × ${model}`).join(', ');
}

/** A node's GPUs allocated as a meter and "1.5 / 2". @param {NodeView} n @param {TopNode | undefined} t */
export function allocatedCell(n, t) {
  const u = nodeUse(t);
  return h(
    'span',
    { class: 'with-meter' },
    meter(u.allocated, n.gpus.length),
    `${fmt.gpus(u.allocated)} / ${n.gpus.length}`,
  );
}

/** @param {string} label @param {string} value @param {string} [sub] */
function stat(label, value, sub) {
  return h(
    'div',
    { class: 'stat' },
    h('div', { class: 'stat-value' }, value),
    h('div', { class: 'stat-label' }, label),
    sub === undefined ? null : h('div', { class: 'stat-sub' }, sub),
  );
}

/** @param {Data} d */
function totals(d) {
  if (d.nodes === null) {
    // Without node access the cluster's size is unknown; what this caller's own work holds is not.
    const mine = d.top.workloads.reduce((a, w) => a + w.gpus, 0);
    return h(
      'div',
      { class: 'stats', role: 'group', 'aria-label': 'Cluster totals' },
      stat('Nodes', '–'),
      stat('GPUs', '–'),
      stat('GPUs allocated', fmt.gpus(mine), 'to workloads you may see'),
      stat('Mean GPU utilization', '–'),
    );
  }
  const nodes = d.nodes;
  const topGpus = d.top.nodes.flatMap((n) => n.gpus);
  const gpuCount = nodes.reduce((a, n) => a + n.gpus.length, 0);
  const allocated = topGpus.reduce((a, g) => a + g.pods.reduce((b, p) => b + p.fraction, 0), 0);
  const utils = topGpus.map((g) => g.utilizationPct).filter((u) => u !== null);
  const mean = utils.length === 0 ? null : utils.reduce((a, u) => a + u, 0) / utils.length;
  const ready = nodes.filter((n) => nodeState(n) === 'ready').length;
  return h(
    'div',
    { class: 'stats', role: 'group', 'aria-label': 'Cluster totals' },
    stat('Nodes', String(nodes.length), `${ready} ready`),
    stat('GPUs', String(gpuCount)),
    stat(
      'GPUs allocated',
      fmt.gpus(allocated),
      gpuCount > 0 ? `${Math.round((allocated / gpuCount) * 100)}% of the cluster` : undefined,
    ),
    stat('Mean GPU utilization', fmt.percent(mean)),
  );
}

/** @param {Data} d */
function nodesTable(d) {
  if (d.nodes === null)
    return h(
      'p',
      { class: 'muted' },
      'You may not see nodes: that needs a role on the whole cluster, or department-admin (an admin can grant it with tessera access grant).',
    );
  const top = new Map(d.top.nodes.map((n) => [n.name, n]));
  return table({
    label: 'Nodes',
    empty: 'No nodes have registered yet: start an agent with tessera agent.',
    rows: d.nodes,
    columns: [
      { label: 'Node', cell: (n) => h('a', { href: hashOf(['nodes', n.name]) }, n.name) },
      { label: 'State', cell: (n) => badge(nodeState(n)) },
      { label: 'GPUs', cell: (n) => gpuModels(n) },
      { label: 'Allocated', cell: (n) => allocatedCell(n, top.get(n.name)) },
      {
        label: 'Utilization',
        cell: (n) => {
          const u = nodeUse(top.get(n.name));
          return h(
            'span',
            { class: 'gpu-cells' },
            ...u.gpus.map((g) =>
              h(
                'span',
                { class: 'gpu-cell', title: `GPU ${g.index}: ${fmt.percent(g.utilizationPct)}` },
                meter(g.utilizationPct ?? 0, 100),
              ),
            ),
            h('span', {}, fmt.percent(u.util)),
          );
        },
      },
      {
        label: 'GPU memory',
        cell: (n) => {
          const u = nodeUse(top.get(n.name));
          return `${u.memUsed === null ? '–' : fmt.memory(u.memUsed)} / ${fmt.memory(u.memTotal)}`;
        },
      },
    ],
  });
}

/** @param {WorkloadView[]} workloads */
function phaseCounts(workloads) {
  const counts = /** @type {Map<string, number>} */ (new Map());
  for (const w of workloads) counts.set(w.phase, (counts.get(w.phase) ?? 0) + 1);
  const shown = WORKLOAD_PHASES.filter((p) => counts.has(p));
  if (shown.length === 0)
    return h('p', { class: 'muted' }, 'No workloads yet. ', h('a', { href: '#/submit' }, 'Submit one'), '.');
  return h(
    'ul',
    { class: 'phase-counts', 'aria-label': 'Workloads by phase' },
    ...shown.map((p) =>
      h(
        'li',
        {},
        h(
          'a',
          { href: hashOf(['workloads'], { phase: p }) },
          badge(p),
          h('span', { class: 'count' }, counts.get(p)),
        ),
      ),
    ),
  );
}

/** The overview page. @param {HTMLElement} root */
export function overviewPage(root) {
  const sTotals = section('Cluster');
  const sNodes = section('Nodes');
  const sPhases = section(
    'Workloads by phase',
    h('a', { href: '#/workloads', class: 'more' }, 'All workloads →'),
  );
  root.replaceChildren(h('h1', {}, 'Overview'), sTotals.el, sNodes.el, sPhases.el);

  /** @param {AbortSignal} signal @returns {Promise<Data>} */
  async function load(signal) {
    const [nodes, top, workloads] = await Promise.all([
      request('GET', '/nodes', { signal }).catch((e) => {
        if (e instanceof ApiError && e.status === 403) return null;
        throw e;
      }),
      request('GET', '/top', { signal }),
      requestList('/workloads', { signal }),
    ]);
    return {
      nodes: /** @type {NodeView[] | null} */ (nodes),
      top: /** @type {TopView} */ (top),
      workloads: /** @type {WorkloadView[]} */ (workloads),
    };
  }

  const poll = live(load, (d) => {
    fill(sTotals.body, totals(d));
    fill(sNodes.body, nodesTable(d));
    fill(sPhases.body, phaseCounts(d.workloads));
  });
  return () => poll.stop();
}
