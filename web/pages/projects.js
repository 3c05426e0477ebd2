// @ts-check
/**
 * Projects and departments per node pool: what each deserves, its limit and over-quota weight (its
 * quota), and what the newest scheduling cycle computed as its fair share and found allocated.
 * Before the first cycle `/shares` is empty and the quotas alone are shown.
 */
import { request } from '../api.js';
import * as fmt from '../format.js';
import { live } from '../live.js';
import { fill, h, meter, section, table } from '../render.js';
import { hashOf } from '../router.js';

/** @typedef {import('../types.js').ProjectView} ProjectView */
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
    if (s.kind !== 'project' || !known.has(s.queue)) continue;
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

/** @param {string} label @param {Line[]} rows @param {boolean} projects */
function linesTable(label, rows, projects) {
  /** @type {import('../render.js').Column<Line>[]} */
  const columns = [
    {
      label: projects ? 'Project' : 'Department',
      cell: (l) =>
        projects
          ? h('a', { href: hashOf(['workloads'], { project: l.queue }) }, l.queue)
          : h('strong', {}, l.queue),
    },
  ];
  if (projects) columns.push({ label: 'Department', cell: (l) => l.department ?? '–' });
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

/** The projects page. @param {HTMLElement} root */
export function projectsPage(root) {
  const sProjects = section('Projects');
  const sDepartments = section('Departments');
  root.replaceChildren(h('h1', {}, 'Projects and quotas'), legend(), sProjects.el, sDepartments.el);

  /** @param {AbortSignal} signal */
  async function load(signal) {
    const [projects, shares] = await Promise.all([
      request('GET', '/projects', { signal }),
      request('GET', '/shares', { signal }),
    ]);
    return { projects: /** @type {ProjectView[]} */ (projects), shares: /** @type {ShareRow[]} */ (shares) };
  }

  const poll = live(load, (d) => {
    fill(sProjects.body, linesTable('Projects', projectLines(d.projects, d.shares), true));
    const departments = d.shares
      .filter((s) => s.kind === 'department')
      .map((s) => ({ ...s }))
      .sort((a, b) => a.queue.localeCompare(b.queue) || a.nodePool.localeCompare(b.nodePool));
    fill(sDepartments.body, linesTable('Departments', departments, false));
  });
  return () => poll.stop();
}
