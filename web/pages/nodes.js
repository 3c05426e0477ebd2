// @ts-check
/**
 * Nodes: each with its state, GPUs, allocation and use, and for an admin (manage-cluster) the
 * actions on it: cordon (no new pods), uncordon, drain (cordon and move its pods off under their
 * workloads' rules). Reading nodes needs `read-nodes`; the page says so to a user without it.
 */

import { CLUSTER, can, grantsOf } from '../access.js';
import { act, confirmButton, keeper } from '../actions.js';
import { ApiError, request } from '../api.js';
import * as fmt from '../format.js';
import { live } from '../live.js';
import { badge, fill, h, section, table } from '../render.js';
import { hashOf } from '../router.js';
import { currentUser } from '../session.js';
import { showNotice } from '../status.js';
import { allocatedCell, gpuModels, nodeState, nodeUse } from './overview.js';

/** @typedef {import('../types.js').NodeView} NodeView */
/** @typedef {import('../types.js').TopView} TopView */

/**
 * The buttons an admin gets for one node; `after` runs once an action was taken.
 * @param {NodeView} n @param {() => void} after
 */
export function nodeActions(n, after) {
  const enc = encodeURIComponent(n.name);
  const cordon = h(
    'button',
    {
      type: 'button',
      onclick: async () => {
        cordon.disabled = true;
        if ((await act('PATCH', `/nodes/${enc}`, { cordoned: !n.cordoned })) !== undefined)
          showNotice(`${n.cordoned ? 'Uncordoned' : 'Cordoned'} node ${n.name}.`);
        after();
      },
    },
    n.cordoned ? 'Uncordon' : 'Cordon',
  );
  const drain = confirmButton(
    'Drain',
    `Drain ${n.name}? It is cordoned and its pods are moved off under their workloads' rules.`,
    'Yes, drain',
    async () => {
      if ((await act('POST', `/nodes/${enc}/drain`, { force: false })) !== undefined)
        showNotice(`Draining node ${n.name}.`);
      after();
    },
    { disabled: n.lost },
  );
  return h('span', { class: 'actions', role: 'group', 'aria-label': `Actions on ${n.name}` }, cordon, drain);
}

/** Loads the nodes and their use; null nodes when the caller may not read them. @param {AbortSignal} signal */
export async function loadNodes(signal) {
  const [nodes, top, me] = await Promise.all([
    request('GET', '/nodes', { signal }).catch((e) => {
      if (e instanceof ApiError && e.status === 403) return null;
      throw e;
    }),
    request('GET', '/top', { signal }),
    currentUser(),
  ]);
  return {
    nodes: /** @type {NodeView[] | null} */ (nodes),
    top: /** @type {TopView} */ (top),
    admin: can(
      grantsOf(me.rules, () => null),
      'manage-cluster',
      CLUSTER,
    ),
  };
}

/** Said to a user who may not read nodes. */
export const NO_NODES =
  'You may not see nodes: that needs a role on the whole cluster, or department-admin (an admin can grant it with tessera access grant).';

/** The nodes page. @param {HTMLElement} root */
export function nodesPage(root) {
  const list = section('Nodes');
  root.replaceChildren(h('h1', {}, 'Nodes'), list.el);

  /** @type {ReturnType<typeof keeper<HTMLElement>>} */
  const kept = keeper();
  const poll = live(loadNodes, (d) => {
    if (d.nodes === null) {
      fill(list.body, h('p', { class: 'muted' }, NO_NODES));
      return;
    }
    const top = new Map(d.top.nodes.map((n) => [n.name, n]));
    /** @type {import('../render.js').Column<NodeView>[]} */
    const columns = [
      { label: 'Node', cell: (n) => h('a', { href: hashOf(['nodes', n.name]) }, n.name) },
      { label: 'State', cell: (n) => badge(nodeState(n)) },
      { label: 'GPUs', cell: (n) => gpuModels(n) },
      // The pool is the API's to resolve (selectors, oldest first); shown where it says.
      ...(d.nodes.some((n) => n.nodePool !== undefined)
        ? [
            {
              label: 'Pool',
              cell: (/** @type {NodeView} */ n) =>
                n.nodePool === undefined
                  ? '–'
                  : h('a', { href: hashOf(['nodepools', n.nodePool]) }, n.nodePool),
            },
          ]
        : []),
      { label: 'Allocated', cell: (n) => allocatedCell(n, top.get(n.name)) },
      { label: 'Utilization', align: 'num', cell: (n) => fmt.percent(nodeUse(top.get(n.name)).util) },
      { label: 'Last seen', align: 'num', cell: (n) => fmt.age(n.lastSeenAt, Date.now()) },
    ];
    // Kept across polls while the node's state stands, so an open "Yes, drain" survives a refresh.
    const actions = (/** @type {NodeView} */ n) =>
      kept.get(`${n.name}\u0000${n.cordoned}\u0000${n.lost}`, () => nodeActions(n, () => poll.refresh()));
    if (d.admin) columns.push({ label: 'Actions', cell: actions });
    fill(
      list.body,
      table({
        label: 'Nodes',
        rows: d.nodes,
        columns,
        empty: 'No nodes have registered yet: start an agent with tessera agent.',
      }),
    );
    kept.done();
  });
  return () => poll.stop();
}
