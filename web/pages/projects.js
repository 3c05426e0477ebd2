// @ts-check
/**
 * Projects and departments per node pool: what each deserves, its limit and over-quota weight (its
 * quota), and what the newest scheduling cycle computed as its fair share and found allocated.
 * Before the first cycle `/shares` is empty and the quotas alone are shown.
 */
import { CLUSTER, can, grantsOf } from '../access.js';
import { createForm } from '../actions.js';
import { request } from '../api.js';
import * as fmt from '../format.js';
import { live } from '../live.js';
import { fill, h, meter, section, table } from '../render.js';
import { hashOf } from '../router.js';
import { currentUser } from '../session.js';

/** @typedef {import('../types.js').ProjectView} ProjectView */
/** @typedef {import('../types.js').DepartmentView} DepartmentView */
/** @typedef {import('../types.js').ShareRow} ShareRow */
/**
 * One line of a table: a share row, or a quota not yet seen by a cycle (fair share and allocated null).
 * @typedef {object} Line
 * @property {string} queue
 * @property {string | null} department
 * @property {string} nodePool
 * @property {number} deserved
 * @property {number} limit
 * @property {number} overQuotaWeight
 * @property {number | null} fairShare
 * @property {number | null} allocated
 */

/**
 * Every project in every pool it has a quota or a share in; shares win, being the newer truth.
 * @param {ProjectView[]} projects
 * @param {ShareRow[]} shares
 * @returns {Line[]}
 */
export function projectLines(projects, shares) {
  return queueLines(projects, shares, 'project');
}

/**
 * Every project or department of `queues` in every pool it has a quota or a share in.
 * @param {{ name: string, department?: string | null, quotas: ProjectView['quotas'] }[]} queues
 * @param {ShareRow[]} shares
 * @param {'project' | 'department'} kind
 * @returns {Line[]}
 */
export function queueLines(queues, shares, kind) {
  const projects = queues.map((q) => ({ ...q, department: q.department ?? null }));
  /** @type {Map<string, Line>} */
  const lines = new Map();
  for (const p of projects) {
    for (const q of p.quotas) {
      lines.set(`${p.name}\u0000${q.nodePool}`, {
        queue: p.name,
        department: p.department,
        nodePool: q.nodePool,
        deserved: q.gpu,
        limit: q.limit,
        overQuotaWeight: q.overQuotaWeight,
        fairShare: null,
        allocated: null,
      });
    }
  }
  const known = new Set(projects.map((p) => p.name));
  for (const s of shares) {
    if (s.kind !== kind || !known.has(s.queue)) continue;
    lines.set(`${s.queue}\u0000${s.nodePool}`, { ...s });
  }
  // Projects without any quota still belong on the page: they run only over quota.
  for (const p of projects) {
    if (![...lines.values()].some((l) => l.queue === p.name))
      lines.set(`${p.name}\u0000`, {
        queue: p.name,
        department: p.department,
        nodePool: '–',
        deserved: 0,
        limit: -1,
        overQuotaWeight: 1,
        fairShare: null,
        allocated: null,
      });
  }
  return [...lines.values()].sort(
    (a, b) => a.queue.localeCompare(b.queue) || a.nodePool.localeCompare(b.nodePool),
  );
}

/** @param {Line} l */
function shareBar(l) {
  if (l.allocated === null || l.fairShare === null) return h('span', { class: 'muted' }, 'no cycle yet');
  // Headroom past the largest value so the marks never sit on the right edge.
  const max = Math.max(l.allocated, l.deserved, l.fairShare, 0.001) * 1.15;
  return h(
    'span',
    { class: 'with-meter share' },
    meter(l.allocated, max, [
      { at: l.deserved, label: `deserved ${fmt.gpus(l.deserved)}`, class: 'mark-deserved' },
      { at: l.fairShare, label: `fair share ${fmt.gpus(l.fairShare)}`, class: 'mark-fair' },
    ]),
  );
}

/**
 * The quota and share table of projects or departments, each name a link to its page; without
 * `named`, one queue's pools only (its own page).
 * @param {string} label @param {Line[]} rows @param {boolean} projects @param {boolean} [named]
 */
export function linesTable(label, rows, projects, named = true) {
  /** @type {import('../render.js').Column<Line>[]} */
  const columns = [];
  if (named)
    columns.push({
      label: projects ? 'Project' : 'Department',
      cell: (l) => h('a', { href: hashOf([projects ? 'projects' : 'departments', l.queue]) }, l.queue),
    });
  if (projects && named)
    columns.push({
      label: 'Department',
      cell: (l) =>
        l.department === null ? '–' : h('a', { href: hashOf(['departments', l.department]) }, l.department),
    });
  columns.push(
    { label: 'Node pool', cell: (l) => l.nodePool },
    { label: 'Deserved', align: 'num', cell: (l) => fmt.gpus(l.deserved) },
    { label: 'Limit', align: 'num', cell: (l) => fmt.limit(l.limit) },
    { label: 'Over-quota weight', align: 'num', cell: (l) => String(l.overQuotaWeight) },
    { label: 'Fair share', align: 'num', cell: (l) => (l.fairShare === null ? '–' : fmt.gpus(l.fairShare)) },
    { label: 'Allocated', align: 'num', cell: (l) => (l.allocated === null ? '–' : fmt.gpus(l.allocated)) },
    { label: 'Share', cell: shareBar },
  );
  return table({
    label,
    rows,
    columns,
    empty: projects ? 'No projects you may read.' : 'No departments you may read.',
  });
}

function legend() {
  return h(
    'p',
    { class: 'legend' },
    h('span', { class: 'key key-fill' }),
    'allocated ',
    h('span', { class: 'key key-deserved' }),
    'deserved ',
    h('span', { class: 'key key-fair' }),
    'fair share (GPUs, from the newest scheduling cycle)',
  );
}

/**
 * The form an admin creates a department with; its quotas are set on its page after.
 * @param {() => void} created
 */
function newDepartmentForm(created) {
  return createForm({
    what: 'New department',
    id: 'new-department-name',
    label: 'New department',
    help: 'lowercase letters, digits and -',
    button: 'Create department',
    path: '/departments',
    body: (name) => ({ name }),
    done: (name) => `Created department ${name}; set its quotas on its page.`,
    created,
  });
}

/** The projects page. @param {HTMLElement} root */
export function projectsPage(root) {
  const sProjects = section('Projects');
  const sDepartments = section('Departments');
  const create = h('div', { class: 'admin-only' });
  root.replaceChildren(h('h1', {}, 'Projects and quotas'), legend(), sProjects.el, sDepartments.el, create);

  /** @param {AbortSignal} signal */
  async function load(signal) {
    const [projects, departments, shares, me] = await Promise.all([
      request('GET', '/projects', { signal }),
      request('GET', '/departments', { signal }),
      request('GET', '/shares', { signal }),
      currentUser(),
    ]);
    return {
      projects: /** @type {ProjectView[]} */ (projects),
      departments: /** @type {DepartmentView[]} */ (departments),
      shares: /** @type {ShareRow[]} */ (shares),
      admin: can(
        grantsOf(me.rules, () => null),
        'manage-cluster',
        CLUSTER,
      ),
    };
  }

  const poll = live(load, (d) => {
    fill(sProjects.body, linesTable('Projects', projectLines(d.projects, d.shares), true));
    fill(
      sDepartments.body,
      linesTable('Departments', queueLines(d.departments, d.shares, 'department'), false),
    );
    // Built once: a poll must not wipe what the admin is typing.
    if (d.admin && create.childElementCount === 0)
      fill(
        create,
        newDepartmentForm(() => poll.refresh()),
      );
  });
  return () => poll.stop();
}
