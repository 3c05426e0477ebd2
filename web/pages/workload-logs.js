// @ts-check
/**
 * The Logs section of the workload page: the last LOG_TAIL_LINES lines of one pod's output
 * (`GET /workloads/:id/logs?tail=`), read again on each of the page's polls rather than followed, so
 * the page keeps one timer and one request at a time, and leaving it aborts the read with the rest.
 * A workload with nothing to show yet (no pod on a node, no output, node not connected) gets the
 * reason as a quiet line: that is not an error of the page.
 */
import { ApiError, requestText } from '../api.js';
import { SCHEDULED_POD_PHASES } from '../constants.js';
import { h, section } from '../render.js';

/** @typedef {import('../types.js').WorkloadView} WorkloadView */
/** @typedef {import('../types.js').PodView} PodView */

/**
 * One poll's read of the shown pod: its text, or why there is none.
 * @typedef {{ pod: string, text: string } | { pod: string | null, message: string }} LogsData
 */

/** How many of the pod's last lines the section shows. */
export const LOG_TAIL_LINES = 200;

/** The logs route's answers that mean "nothing to show yet": no log, no pod on a node, node away. */
const QUIET_STATUSES = [404, 409, 503];

/** Within this many pixels of the end counts as "at the bottom" (rounding of fractional heights). */
const BOTTOM_SLACK_PX = 4;

/**
 * The pod shown until the user picks one, as the API picks it: the first placed pod, else the
 * newest that ran somewhere; null when no pod has been on a node.
 * @param {readonly PodView[]} pods
 * @returns {PodView | null}
 */
export function defaultPod(pods) {
  const placed = pods.find((p) => p.node !== null && SCHEDULED_POD_PHASES.includes(p.phase));
  return placed ?? [...pods].reverse().find((p) => p.node !== null) ?? null;
}

/**
 * The section; `load` runs inside the page's poll and `show` with its answer. `onPick` is called
 * when the user chooses another pod (the page polls again at once).
 * @param {() => void} onPick
 */
export function logsSection(onPick) {
  const picker = h('select', { id: 'logs-pod' });
  const pickerWrap = h(
    'div',
    { class: 'field inline logs-pod', hidden: true },
    h('label', { for: 'logs-pod' }, 'Pod'),
    picker,
  );
  const note = h('p', { class: 'muted logs-note' });
  // Focusable so a keyboard user can scroll it; named so assistive tech (and the E2E test) finds it.
  const pre = h('pre', { class: 'logs', 'aria-label': 'Pod output', tabindex: 0, hidden: true });
  const { el, body } = section('Logs', pickerWrap);
  body.append(note, pre);
  /** The pod the user chose; null follows the default. @type {string | null} */
  let chosen = null;
  /** The pod names the picker lists, to rebuild it only when they change (an open list stays open). */
  let listed = '';
  /** The pod whose text the pre holds. @type {string | null} */
  let shownPod = null;

  picker.addEventListener('change', () => {
    chosen = picker.value;
    onPick();
  });

  /** @param {WorkloadView} w */
  function podFor(w) {
    const picked = chosen === null ? undefined : w.pods.find((p) => p.name === chosen);
    return picked ?? defaultPod(w.pods);
  }

  /** @param {WorkloadView} w */
  function showPicker(w) {
    const names = w.pods.map((p) => p.name);
    pickerWrap.hidden = names.length < 2;
    if (names.join('\n') !== listed) {
      listed = names.join('\n');
      picker.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
    }
    picker.value = podFor(w)?.name ?? '';
  }

  /** @param {string} message */
  function showNote(message) {
    note.textContent = message;
    note.hidden = false;
    pre.hidden = true;
  }

  /** @param {string} pod @param {string} text */
  function showText(pod, text) {
    const atBottom = pre.hidden || pre.scrollHeight - pre.scrollTop - pre.clientHeight <= BOTTOM_SLACK_PX;
    note.hidden = true;
    pre.hidden = false;
    // Unchanged text is left alone, so a selection or a scrolled-up reader is not disturbed.
    if (pre.textContent !== text || shownPod !== pod) pre.textContent = text;
    if (atBottom || shownPod !== pod) pre.scrollTop = pre.scrollHeight;
    shownPod = pod;
  }

  return {
    el,

    /**
     * Reads the shown pod's last lines; the quiet answers become a message, any other failure
     * fails the poll as every other source does.
     * @param {WorkloadView} w
     * @param {AbortSignal} signal
     * @returns {Promise<LogsData>}
     */
    async load(w, signal) {
      const pod = podFor(w);
      // Known without asking: no request that can only answer 409 on every poll of a Pending workload.
      if (pod === null)
        return { pod: null, message: 'No output yet: no pod of this workload has run on a node.' };
      if (pod.node === null)
        return { pod: pod.name, message: `No output yet: pod ${pod.name} is on no node.` };
      const query = new URLSearchParams({ pod: pod.name, tail: String(LOG_TAIL_LINES) });
      try {
        const text = await requestText(`/workloads/${encodeURIComponent(w.id)}/logs?${query}`, { signal });
        return { pod: pod.name, text };
      } catch (e) {
        if (e instanceof ApiError && QUIET_STATUSES.includes(e.status))
          return { pod: pod.name, message: e.message };
        throw e;
      }
    },

    /** @param {WorkloadView} w @param {LogsData} data */
    show(w, data) {
      showPicker(w);
      // Read for a pod the user has since left (the pick came during the poll): the next poll is on its way.
      if (data.pod !== (podFor(w)?.name ?? null)) return;
      if ('message' in data) showNote(data.message);
      else if (data.text === '') showNote(`Pod ${data.pod} has printed nothing yet.`);
      else showText(data.pod, data.text);
    },
  };
}
