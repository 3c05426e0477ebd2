// @ts-check
/**
 * One project or department: its quota per node pool beside the fair share and allocation the newest
 * cycle found, the quota editor for whoever may change it (a project's: its department-admin or an
 * admin; a department's: an admin only), a project's usage over time, a department's projects, and
 * deleting it.
 */

import { CLUSTER, can, grantsOf } from '../access.js';
import { act, confirmButton, createForm } from '../actions.js';
import { ApiError, request } from '../api.js';
import { historySection } from '../history.js';
import { live } from '../live.js';
import { quotaEditor } from '../quota-editor.js';
import { fill, h, section } from '../render.js';
import { go, hashOf } from '../router.js';
import { currentUser } from '../session.js';
import { noticeNext, showNotice } from '../status.js';
import { linesTable, projectLines, queueLines } from './projects.js';

/** @typedef {import('../router.js').Route} Route */
/** @typedef {import('../types.js').ProjectView} ProjectView */
/** @typedef {import('../types.js').DepartmentView} DepartmentView */
/** @typedef {import('../types.js').ShareRow} ShareRow */
/** @typedef {import('../types.js').PoolView} PoolView */
/** @typedef {import('../access.js').Scope} Scope */

/**
 * @typedef {object} Data
 * @property {ProjectView | DepartmentView} queue
 * @property {ProjectView[]} projects every project the caller reads
 * @property {ShareRow[]} shares
 * @property {string[]} pools
 * @property {boolean} mayEdit may change the quotas
 * @property {boolean} mayDelete
 * @property {boolean} mayAddProject a department page: may create projects in it
 */

/** The form that creates a project in `department`. @param {string} department @param {() => void} created */
function newProjectForm(department, created) {
  return createForm({
    what: 'New project',
    id: 'new-project-name',
    label: 'New project',
    help: `in department ${department}`,
    button: 'Create project',
    path: '/projects',
    body: (name) => ({ name, department }),
    done: (name) => `Created project ${name} in ${department}.`,
    created,
  });
}

/**
 * The page of a project or a department.
 * @param {'project' | 'department'} kind
 * @returns {(root: HTMLElement, route: Route) => () => void}
 */
export function queuePage(kind) {
  return (root, route) => {
    const name = route.path[1] ?? '';
    const base = kind === 'project' ? '/projects' : '/departments';
    const path = `${base}/${encodeURIComponent(name)}`;
    const sub = h('p', { class: 'muted' });
    const actions = h('div', { class: 'actions-bar' });
    const sQuotas = section('Quotas');
    const editorSlot = h('div', { class: 'editor-slot' });
    const sProjects = section('Projects');
    const history = kind === 'project' ? historySection('project', name) : null;
    const addSlot = h('div');
    fill(
      root,
      h('p', { class: 'crumbs' }, h('a', { href: '#/projects' }, 'Projects and quotas'), ' / '),
      h('h1', {}, `${kind === 'project' ? 'Project' : 'Department'} ${name}`),
      sub,
      actions,
      sQuotas.el,
      editorSlot,
      history?.el ?? null,
      kind === 'department' ? sProjects.el : null,
      addSlot,
    );

    /** @param {AbortSignal} signal @returns {Promise<Data>} */
    async function load(signal) {
      const [queue, projects, shares, pools, me] = await Promise.all([
        request('GET', path, { signal }),
        request('GET', '/projects', { signal }),
        request('GET', '/shares', { signal }),
        // Pools need read-nodes; without it the editor offers the pools the quotas name.
        request('GET', '/nodepools', { signal }).catch((e) => {
          if (e instanceof ApiError && e.status === 403) return [];
          throw e;
        }),
        currentUser(),
      ]);
      const q = /** @type {ProjectView | DepartmentView} */ (queue);
      const all = /** @type {ProjectView[]} */ (projects);
      const departmentOf = (/** @type {string} */ p) => all.find((x) => x.name === p)?.department ?? null;
      const grants = grantsOf(me.rules, departmentOf);
      /** @type {Scope} */
      const scope =
        kind === 'project'
          ? { kind: 'project', project: name, department: 'department' in q ? q.department : null }
          : { kind: 'department', department: name };
      const admin = can(grants, 'manage-cluster', CLUSTER);
      return {
        queue: q,
        projects: all,
        shares: /** @type {ShareRow[]} */ (shares),
        pools: ['default', .../** @type {PoolView[]} */ (pools).map((p) => p.name)],
        // A department's own quota is the cluster's to split (permissions.ts).
        mayEdit: kind === 'project' ? can(grants, 'manage-project', scope) : admin,
        mayDelete: kind === 'project' ? can(grants, 'manage-project', scope) : admin,
        mayAddProject:
          kind === 'department' &&
          can(grants, 'manage-project', { kind: 'project', project: '', department: name }),
      };
    }

    /** @type {Data | null} */
    let last = null;
    let shownKey = '';
    const closeEditor = () => {
      editorSlot.replaceChildren();
      poll.refresh();
    };
    const editBtn = h('button', { type: 'button' }, 'Edit quotas');
    // The editor opens from the data last shown and is never refilled by a poll: what is typed stays.
    editBtn.addEventListener('click', () => {
      if (last === null) return;
      editBtn.hidden = true;
      const d = last;
      editorSlot.replaceChildren(
        quotaEditor(
          `${kind} ${name}`,
          d.queue.quotas,
          d.pools,
          async (quotas, form) => {
            if ((await act('PATCH', path, { quotas }, form)) === undefined) return false;
            showNotice(`Saved the quotas of ${kind} ${name}.`);
            return true;
          },
          closeEditor,
        ),
      );
    });

    const poll = live(load, (d) => {
      last = d;
      const q = d.queue;
      if ('department' in q && q.department !== null)
        fill(
          sub,
          'In department ',
          h('a', { href: hashOf(['departments', q.department]) }, q.department),
          '. ',
          h('a', { href: hashOf(['workloads'], { project: name }) }, 'Its workloads'),
          '.',
        );
      const lines =
        kind === 'project'
          ? projectLines([/** @type {ProjectView} */ (q)], d.shares)
          : queueLines([q], d.shares, 'department');
      fill(sQuotas.body, linesTable('Quotas', lines, kind === 'project', false));
      editBtn.hidden = !d.mayEdit || editorSlot.childElementCount > 0;
      // Rebuilt only when what the user may do changes, so an open confirmation survives the polls.
      const key = `${d.mayEdit}\u0000${d.mayDelete}`;
      if (key !== shownKey) {
        shownKey = key;
        fill(
          actions,
          d.mayEdit ? editBtn : null,
          d.mayDelete
            ? confirmButton(
                `Delete ${kind}`,
                `Delete ${kind} ${name}? Refused while it has ${kind === 'project' ? 'workloads' : 'projects'}.`,
                'Yes, delete',
                async () => {
                  if ((await act('DELETE', path)) === undefined) return;
                  noticeNext(`Deleted ${kind} ${name}.`);
                  go('#/projects');
                },
              )
            : null,
        );
      }
      if (kind === 'department') {
        const mine = d.projects.filter((p) => p.department === name);
        fill(sProjects.body, linesTable('Projects of the department', projectLines(mine, d.shares), true));
        if (d.mayAddProject && addSlot.childElementCount === 0)
          fill(
            addSlot,
            newProjectForm(name, () => poll.refresh()),
          );
      }
    });
    return () => {
      poll.stop();
      history?.stop();
    };
  };
}
