// @ts-check
/**
 * One node: its state, GPUs (each with its newest reading and the pods granted on it), labels,
 * the admin's actions, and its GPU allocation and utilization over time.
 */
import { act, confirmButton } from '../actions.js';
import * as fmt from '../format.js';
import { historySection } from '../history.js';
import { live } from '../live.js';
import { badge, fill, h, section, table } from '../render.js';
import { go, hashOf } from '../router.js';
import { noticeNext } from '../status.js';
import { loadNodes, NO_NODES, nodeActions } from './nodes.js';
import { nodeState } from './overview.js';

/** @typedef {import('../router.js').Route} Route */
/** @typedef {import('../types.js').NodeView} NodeView */
/** @typedef {import('../types.js').TopGpu} TopGpu */

/** The node page. @param {HTMLElement} root @param {Route} route */
export function nodePage(root, route) {
  const name = route.path[1] ?? '';
  const state = h('span', { role: 'status', 'aria-label': 'Node state' });
  const actions = h('div', { class: 'actions-bar' });
  const sGpus = section('GPUs');
  const sLabels = section('Labels');
  const history = historySection('node', name);
  root.replaceChildren(
    h('p', { class: 'crumbs' }, h('a', { href: '#/nodes' }, 'Nodes'), ' / '),
    h('h1', {}, name, ' ', state),
    actions,
    sGpus.el,
    history.el,
    sLabels.el,
  );

  let shownKey = '';
  const poll = live(loadNodes, (d) => {
    if (d.nodes === null) {
      fill(sGpus.body, h('p', { class: 'muted' }, NO_NODES));
      return;
    }
    const n = d.nodes.find((x) => x.name === name);
    if (n === undefined) {
      fill(sGpus.body, h('p', { class: 'muted' }, `No node named ${name}.`));
      return;
    }
    fill(state, badge(nodeState(n)));
    // Rebuilt only when the node's state changes, so an open confirmation survives the polls.
    const key = `${d.admin}\u0000${n.cordoned}\u0000${n.lost}`;
    if (key !== shownKey) {
      shownKey = key;
      fill(
        actions,
        d.admin
          ? [
              nodeActions(n, () => poll.refresh()),
              confirmButton(
                'Delete',
                `Delete node ${name}? Refused while pods hold it; its agent registers it again when it reconnects.`,
                'Yes, delete',
                async () => {
                  if ((await act('DELETE', `/nodes/${encodeURIComponent(name)}`)) === undefined) return;
                  noticeNext(`Deleted node ${name}.`);
                  go('#/nodes');
                },
              ),
            ]
          : null,
      );
    }
    const top = d.top.nodes.find((x) => x.name === name);
    fill(
      sGpus.body,
      h(
        'p',
        { class: 'muted' },
        `${fmt.gpus(n.cpuMillis / 1000)} CPUs, ${fmt.memory(n.memoryMiB)} memory; last seen ${fmt.age(n.lastSeenAt, Date.now())} ago`,
        n.nodePool === undefined
          ? '.'
          : ['; in node pool ', h('a', { href: hashOf(['nodepools', n.nodePool]) }, n.nodePool), '.'],
      ),
      table({
        label: 'GPUs',
        rows: top?.gpus ?? [],
        empty: 'This node has no GPUs.',
        columns: [
          { label: 'GPU', align: 'num', cell: (g) => String(g.index) },
          { label: 'Model', cell: (g) => g.model },
          { label: 'Utilization', align: 'num', cell: (g) => fmt.percent(g.utilizationPct) },
          {
            label: 'Memory',
            align: 'num',
            cell: (g) =>
              `${g.memoryUsedMiB === null ? '–' : fmt.memory(g.memoryUsedMiB)} / ${fmt.memory(g.memoryTotalMiB)}`,
          },
          {
            label: 'Pods',
            cell: (g) =>
              g.pods.length === 0
                ? h('span', { class: 'muted' }, 'free')
                : g.pods.map((p) =>
                    h(
                      'span',
                      { class: 'pod-chip' },
                      h('a', { href: hashOf(['workloads', p.workload]) }, p.workloadName),
                      ` ${fmt.gpus(p.fraction)} GPU`,
                    ),
                  ),
          },
        ],
      }),
    );
    const labels = Object.entries(n.labels).sort(([a], [b]) => a.localeCompare(b));
    fill(
      sLabels.body,
      table({
        label: 'Labels',
        rows: labels,
        empty: 'No labels.',
        columns: [
          { label: 'Label', cell: ([k]) => h('code', {}, k) },
          { label: 'Value', cell: ([, v]) => h('code', {}, v) },
          { label: 'Set by', cell: ([k]) => (k in (n.adminLabels ?? {}) ? 'admin' : 'agent') },
        ],
      }),
    );
  });
  return () => {
    poll.stop();
    history.stop();
  };
}
