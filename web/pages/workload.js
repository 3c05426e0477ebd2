// @ts-check
/**
 * One workload: its spec, phase and reason, pods, GPU use, why it waits (when Pending), a pod's
 * output and its phase history, with Stop / Run / Delete. Actions refresh the page at once rather
 * than waiting for the next poll; a refused action shows the API's message and leaves the page as
 * it was.
 */
import { ApiError, request, requestList } from '../api.js';
import { STOPPABLE } from '../constants.js';
import * as fmt from '../format.js';
import { live } from '../live.js';
import { fill, h, section } from '../render.js';
import { go } from '../router.js';
import { hideError, noticeNext, showError } from '../status.js';
import { logsSection } from './workload-logs.js';
import { endpointsTable, eventsTable, gpuUse, podsTable, specList } from './workload-parts.js';
import { phaseCell } from './workloads.js';

/** @typedef {import('../types.js').WorkloadView} WorkloadView */
/** @typedef {import('../types.js').EventView} EventView */
/** @typedef {import('../types.js').ExplainView} ExplainView */
/** @typedef {import('../types.js').TopView} TopView */
/** @typedef {import('../router.js').Route} Route */
/** @typedef {import('./workload-logs.js').LogsData} LogsData */
/** @typedef {{ gone: true } | { gone: false, w: WorkloadView, events: EventView[], explain: ExplainView | null, top: TopView, logs: LogsData }} Data */

/** The workload detail page. @param {HTMLElement} root @param {Route} route */
export function workloadPage(root, route) {
  const id = route.path[1] ?? '';
  const title = h('h1', {}, 'Workload');
  const phase = h('div', { class: 'phase-line', 'aria-label': 'Phase', role: 'status' });
  const stopBtn = h('button', { type: 'button' }, 'Stop');
  const runBtn = h('button', { type: 'button' }, 'Run');
  const deleteBtn = h('button', { type: 'button', class: 'danger' }, 'Delete');
  const confirmBox = h('span', { class: 'confirm', hidden: true });
  const sSpec = section('Spec');
  const sPods = section('Pods');
  const sEndpoints = section('Endpoints');
  const sWhy = section('Why it is pending');
  const sUse = section('GPU use');
  // A pod chosen for the logs is read at once, not at the next poll.
  const sLogs = logsSection(() => poll.refresh());
  const sEvents = section('Events');
  const body = h('div', {}, sSpec.el, sPods.el, sEndpoints.el, sWhy.el, sUse.el, sLogs.el, sEvents.el);
  root.replaceChildren(
    h('p', { class: 'crumbs' }, h('a', { href: '#/workloads' }, '← Workloads')),
    h(
      'div',
      { class: 'title-row' },
      h('div', {}, title, phase),
      h(
        'div',
        { class: 'actions', role: 'group', 'aria-label': 'Actions' },
        stopBtn,
        runBtn,
        deleteBtn,
        confirmBox,
      ),
    ),
    body,
  );
  /** @type {WorkloadView | null} */
  let current = null;
  let busy = false;

  function setButtons() {
    const p = current?.phase ?? '';
    stopBtn.disabled = busy || !STOPPABLE.includes(p);
    runBtn.disabled = busy || p !== 'Stopped';
    deleteBtn.disabled = busy || current === null || p === 'Deleting';
  }

  /** @param {AbortSignal} signal @returns {Promise<Data>} */
  async function load(signal) {
    const enc = encodeURIComponent(id);
    /** @type {WorkloadView} */
    let w;
    try {
      w = /** @type {WorkloadView} */ (await request('GET', `/workloads/${enc}`, { signal }));
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return { gone: true };
      throw e;
    }
    const [events, explain, top, logs] = await Promise.all([
      requestList(`/workloads/${enc}/events`, { signal }),
      w.phase === 'Pending' ? request('GET', `/workloads/${enc}/explain`, { signal }) : Promise.resolve(null),
      request('GET', '/top', { signal }),
      sLogs.load(w, signal),
    ]);
    return {
      gone: false,
      w,
      events: /** @type {EventView[]} */ (events),
      explain: /** @type {ExplainView | null} */ (explain),
      top: /** @type {TopView} */ (top),
      logs,
    };
  }

  const poll = live(load, (d) => {
    if (d.gone) {
      current = null;
      title.textContent = 'Workload not found';
      fill(phase);
      fill(
        body,
        h(
          'p',
          {},
          `There is no workload with id ${id}; it may have been deleted. `,
          h('a', { href: '#/workloads' }, 'All workloads'),
          '.',
        ),
      );
      setButtons();
      return;
    }
    const w = d.w;
    current = w;
    title.textContent = w.name;
    document.title = `${w.name} · Tessera`;
    fill(
      phase,
      phaseCell(w),
      h(
        'span',
        { class: 'muted' },
        ` · ${w.type} in project ${w.project} · ${w.resources.gpu.kind === 'none' ? 'no GPUs' : `${fmt.gpuRequest(w.resources)} per pod`}`,
      ),
    );
    fill(sSpec.body, specList(w));
    fill(sPods.body, podsTable(w));
    // Only pods with ports have endpoints: a workload without any keeps the page as it was.
    sEndpoints.el.hidden = (w.endpoints ?? []).length === 0;
    fill(sEndpoints.body, endpointsTable(w));
    sWhy.el.hidden = d.explain === null;
    fill(
      sWhy.body,
      d.explain === null
        ? null
        : h('ul', { class: 'reasons' }, ...d.explain.reasons.map((r) => h('li', {}, r))),
    );
    fill(sUse.body, gpuUse(w, d.top));
    sLogs.show(w, d.logs);
    fill(sEvents.body, eventsTable(d.events));
    setButtons();
  });

  /** @param {string} method @param {string} path @param {(answer: unknown) => void} [after] */
  async function act(method, path, after) {
    busy = true;
    setButtons();
    hideError();
    try {
      const answer = await request(method, path);
      after?.(answer);
    } catch (e) {
      showError(e);
    } finally {
      busy = false;
      setButtons();
      poll.refresh();
    }
  }

  const enc = encodeURIComponent(id);
  stopBtn.addEventListener('click', () => void act('POST', `/workloads/${enc}/stop`));
  runBtn.addEventListener('click', () => void act('POST', `/workloads/${enc}/run`));
  // Deleting loses the definition: a second, explicit click rather than a browser dialog.
  deleteBtn.addEventListener('click', () => {
    confirmBox.hidden = false;
    fill(
      confirmBox,
      `Delete ${current?.name ?? id}? `,
      h('button', { type: 'button', class: 'danger', onclick: confirmDelete }, 'Yes, delete'),
      h(
        'button',
        {
          type: 'button',
          class: 'quiet',
          onclick: () => {
            confirmBox.hidden = true;
          },
        },
        'Cancel',
      ),
    );
  });
  function confirmDelete() {
    confirmBox.hidden = true;
    void act('DELETE', `/workloads/${enc}`, (answer) => {
      const purged =
        typeof answer === 'object' && answer !== null && 'purged' in answer && answer.purged === true;
      if (!purged) return;
      noticeNext(`Deleted workload ${current?.name ?? id}.`);
      go('#/workloads');
    });
  }
  setButtons();
  return () => poll.stop();
}
