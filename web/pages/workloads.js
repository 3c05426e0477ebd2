// @ts-check
/**
 * Every workload the caller may read, filtered by project and phase on the server (`?project=`,
 * `?phase=`); the filters live in the address so a reload or a shared link keeps them.
 */
import { request, requestList } from '../api.js';
import { WORKLOAD_PHASES } from '../constants.js';
import * as fmt from '../format.js';
import { live } from '../live.js';
import { badge, fill, h, section, table } from '../render.js';
import { hashOf, replaceHash } from '../router.js';

/** @typedef {import('../types.js').WorkloadView} WorkloadView */
/** @typedef {import('../types.js').ProjectView} ProjectView */
/** @typedef {import('../router.js').Route} Route */

/** "Running" or "Pending: NoCapacity". @param {WorkloadView} w */
export function phaseCell(w) {
  return h(
    'span',
    { class: 'phase' },
    badge(w.phase),
    w.phaseReason === null || w.phaseReason === '' ? null : h('span', { class: 'reason' }, w.phaseReason),
  );
}

/** GPUs a workload asks for: per pod, times the pods when there are several. @param {WorkloadView} w */
export function gpuCell(w) {
  const per = fmt.gpuRequest(w.resources);
  if (w.resources.gpu.kind === 'none') return h('span', { class: 'muted' }, 'none');
  return w.replicas > 1 ? `${w.replicas} × ${per}` : per;
}

/**
 * A labelled select; `value` is chosen when among the options.
 * @param {string} id @param {string} label @param {string[]} options @param {string} value
 */
function select(id, label, options, value) {
  const el = h(
    'select',
    { id, name: id },
    h('option', { value: '' }, 'All'),
    ...options.map((o) => h('option', { value: o, selected: o === value }, o)),
  );
  return { el, wrap: h('div', { class: 'field inline' }, h('label', { for: id }, label), el) };
}

/** The workloads page. @param {HTMLElement} root @param {Route} route */
export function workloadsPage(root, route) {
  const filters = { project: route.query.get('project') ?? '', phase: route.query.get('phase') ?? '' };
  const project = select(
    'filter-project',
    'Project',
    filters.project === '' ? [] : [filters.project],
    filters.project,
  );
  const phase = select('filter-phase', 'Phase', [...WORKLOAD_PHASES], filters.phase);
  const list = section(
    'Workloads',
    h('a', { href: '#/submit', class: 'button primary' }, 'Submit a workload'),
  );
  root.replaceChildren(
    h('h1', {}, 'Workloads'),
    h(
      'form',
      {
        class: 'filters',
        role: 'search',
        'aria-label': 'Filter workloads',
        onsubmit: (e) => e.preventDefault(),
      },
      project.wrap,
      phase.wrap,
    ),
    list.el,
  );

  let known = '';
  /** Keeps the project choices current without disturbing the one selected. @param {ProjectView[]} projects */
  function setProjects(projects) {
    const names = projects.map((p) => p.name).sort();
    if (filters.project !== '' && !names.includes(filters.project)) names.push(filters.project);
    if (names.join('\u0000') === known) return;
    known = names.join('\u0000');
    fill(
      project.el,
      h('option', { value: '' }, 'All'),
      ...names.map((n) => h('option', { value: n, selected: n === filters.project }, n)),
    );
  }

  /** @param {AbortSignal} signal */
  async function load(signal) {
    const qs = new URLSearchParams(Object.entries(filters).filter(([, v]) => v !== '')).toString();
    const [workloads, projects] = await Promise.all([
      requestList(`/workloads${qs === '' ? '' : `?${qs}`}`, { signal }),
      request('GET', '/projects', { signal }),
    ]);
    return {
      workloads: /** @type {WorkloadView[]} */ (workloads),
      projects: /** @type {ProjectView[]} */ (projects),
    };
  }

  const poll = live(load, (d) => {
    setProjects(d.projects);
    const now = Date.now();
    const rows = [...d.workloads].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
    fill(
      list.body,
      table({
        label: 'Workloads',
        rows,
        empty:
          filters.project === '' && filters.phase === ''
            ? 'No workloads yet.'
            : 'No workloads match these filters.',
        columns: [
          { label: 'Name', cell: (w) => h('a', { href: hashOf(['workloads', w.id]) }, w.name) },
          { label: 'Project', cell: (w) => w.project },
          { label: 'Type', cell: (w) => w.type },
          { label: 'Phase', cell: phaseCell },
          { label: 'GPUs', cell: gpuCell },
          {
            label: 'Pods',
            align: 'num',
            cell: (w) => `${w.pods.filter((p) => p.phase === 'Running').length} / ${w.replicas}`,
          },
          { label: 'Age', align: 'num', cell: (w) => fmt.age(w.createdAt, now) },
        ],
      }),
    );
  });

  /** @param {'project' | 'phase'} key @param {HTMLSelectElement} el */
  const onChange = (key, el) => () => {
    filters[key] = el.value;
    replaceHash(hashOf(['workloads'], filters));
    poll.refresh();
  };
  project.el.addEventListener('change', onChange('project', project.el));
  phase.el.addEventListener('change', onChange('phase', phase.el));
  return () => poll.stop();
}
