// @ts-check
/**
 * Node pools: each a label selector (the oldest pool whose selector matches a node claims it; the
 * rest fall in `default`) and its placement strategies. An admin creates, changes and deletes them;
 * each pool's page plots its GPU allocation and utilization over time. Needs `read-nodes`.
 */

import { CLUSTER, can, grantsOf } from '../access.js';
import { act, confirmButton, createForm, labelled, pairsText, parsePairs } from '../actions.js';
import { ApiError, request } from '../api.js';
import { PLACEMENTS } from '../constants.js';
import { historySection } from '../history.js';
import { live } from '../live.js';
import { fill, h, section, table } from '../render.js';
import { go, hashOf } from '../router.js';
import { currentUser } from '../session.js';
import { noticeNext, showError, showNotice } from '../status.js';
import { NO_NODES } from './nodes.js';

/** @typedef {import('../router.js').Route} Route */
/** @typedef {import('../types.js').PoolView} PoolView */

/** @param {AbortSignal} signal */
async function loadPools(signal) {
  const [pools, me] = await Promise.all([
    request('GET', '/nodepools', { signal }).catch((e) => {
      if (e instanceof ApiError && e.status === 403) return null;
      throw e;
    }),
    currentUser(),
  ]);
  return {
    pools: /** @type {PoolView[] | null} */ (pools),
    admin: can(
      grantsOf(me.rules, () => null),
      'manage-cluster',
      CLUSTER,
    ),
  };
}

/** "gpu=h100, zone=a", or "every node" for an empty selector. @param {Record<string, string>} s */
function selectorText(s) {
  return Object.keys(s).length === 0
    ? h('span', { class: 'muted' }, 'every node')
    : h('code', {}, pairsText(s));
}

/**
 * The fields of a pool's form, filled from `pool` when it exists.
 * @param {string} prefix @param {PoolView | null} pool
 */
function poolFields(prefix, pool) {
  const selector = h('textarea', {
    name: 'selector',
    rows: 2,
    placeholder: 'gpu=h100, zone=a',
    spellcheck: 'false',
  });
  selector.value = pool === null ? '' : pairsText(pool.selector);
  /** @param {string} name @param {string} current */
  const strategy = (name, current) =>
    h('select', { name }, ...PLACEMENTS.map((p) => h('option', { value: p, selected: p === current }, p)));
  const gpu = strategy('placement', pool?.placement.gpu ?? PLACEMENTS[0] ?? '');
  const cpu = strategy('placement-cpu', pool?.placement.cpu ?? pool?.placement.gpu ?? PLACEMENTS[0] ?? '');
  return {
    fields: [
      labelled(
        `${prefix}-selector`,
        'Label selector',
        selector,
        'key=value pairs, comma separated; a node needs them all',
      ),
      labelled(`${prefix}-gpu`, 'GPU placement', gpu),
      labelled(`${prefix}-cpu`, 'CPU placement', cpu),
    ],
    /** The body's selector and placement, or null (with the error shown) when the selector does not parse. */
    value() {
      const sel = parsePairs(selector.value);
      if (!sel.ok) {
        showError(new Error(`Label selector: ${sel.error}; write key=value pairs, comma separated`));
        selector.setAttribute('aria-invalid', 'true');
        return null;
      }
      return { selector: sel.value, placement: { gpu: gpu.value, cpu: cpu.value } };
    },
  };
}

/** The form that creates a pool. @param {() => void} created */
function newPoolForm(created) {
  const f = poolFields('new-pool', null);
  return createForm({
    what: 'New node pool',
    heading: 'New node pool',
    id: 'new-pool-name',
    label: 'Name',
    extra: f.fields,
    button: 'Create node pool',
    path: '/nodepools',
    body: (name) => {
      const v = f.value();
      return v === null ? null : { name, ...v };
    },
    done: (name) => `Created node pool ${name}.`,
    created,
  });
}

/** The node pools page. @param {HTMLElement} root */
export function nodepoolsPage(root) {
  const list = section('Node pools');
  const create = h('div');
  root.replaceChildren(h('h1', {}, 'Node pools'), list.el, create);
  const poll = live(loadPools, (d) => {
    if (d.pools === null) {
      fill(list.body, h('p', { class: 'muted' }, NO_NODES));
      return;
    }
    fill(
      list.body,
      table({
        label: 'Node pools',
        rows: d.pools,
        empty: 'No node pools: every node is in the default pool.',
        columns: [
          { label: 'Pool', cell: (p) => h('a', { href: hashOf(['nodepools', p.name]) }, p.name) },
          { label: 'Selector', cell: (p) => selectorText(p.selector) },
          { label: 'GPU placement', cell: (p) => p.placement.gpu },
          { label: 'CPU placement', cell: (p) => p.placement.cpu },
        ],
      }),
      h(
        'p',
        { class: 'muted' },
        'Nodes no pool claims are in the ',
        h('a', { href: hashOf(['nodepools', 'default']) }, 'default pool'),
        '.',
      ),
    );
    if (d.admin && create.childElementCount === 0)
      fill(
        create,
        newPoolForm(() => poll.refresh()),
      );
  });
  return () => poll.stop();
}

/** One node pool's page. @param {HTMLElement} root @param {Route} route */
export function nodepoolPage(root, route) {
  const name = route.path[1] ?? '';
  const path = `/nodepools/${encodeURIComponent(name)}`;
  const details = section('Selector and placement');
  const editSlot = h('div');
  const history = historySection('nodepool', name);
  root.replaceChildren(
    h('p', { class: 'crumbs' }, h('a', { href: '#/nodepools' }, 'Node pools'), ' / '),
    h('h1', {}, `Node pool ${name}`),
    details.el,
    editSlot,
    history.el,
  );
  let built = false;
  const poll = live(loadPools, (d) => {
    const pool = d.pools?.find((p) => p.name === name) ?? null;
    if (d.pools === null) {
      fill(details.body, h('p', { class: 'muted' }, NO_NODES));
      return;
    }
    if (pool === null) {
      fill(
        details.body,
        h(
          'p',
          { class: 'muted' },
          name === 'default'
            ? 'The default pool: every node no other pool claims.'
            : `No node pool named ${name}.`,
        ),
      );
      return;
    }
    fill(
      details.body,
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Selector'),
        h('dd', {}, selectorText(pool.selector)),
        h('dt', {}, 'GPU placement'),
        h('dd', {}, pool.placement.gpu),
        h('dt', {}, 'CPU placement'),
        h('dd', {}, pool.placement.cpu),
      ),
    );
    if (!d.admin || built) return;
    // Built once from the pool as first read: a poll must not overwrite what the admin is typing.
    built = true;
    const f = poolFields('edit-pool', pool);
    const form = h(
      'form',
      { class: 'card-form', 'aria-label': `Change node pool ${name}` },
      h('h2', {}, 'Change'),
      ...f.fields,
      h('button', { type: 'submit', class: 'primary' }, 'Save node pool'),
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const v = f.value();
      if (v === null) return;
      if ((await act('PATCH', path, v, form)) === undefined) return;
      showNotice(`Saved node pool ${name}.`);
      poll.refresh();
    });
    fill(
      editSlot,
      form,
      confirmButton(
        'Delete node pool',
        `Delete node pool ${name}? Its nodes fall in the next pool that matches, else default.`,
        'Yes, delete',
        async () => {
          if ((await act('DELETE', path)) === undefined) return;
          noticeNext(`Deleted node pool ${name}.`);
          go('#/nodepools');
        },
      ),
    );
  });
  return () => {
    poll.stop();
    history.stop();
  };
}
