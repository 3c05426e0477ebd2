// @ts-check
/**
 * The page frame's shared status: "updated Ns ago", the banner for a failed poll (the page keeps
 * its last data under it) and the banner for a failed action (the API's message, word for word).
 */
import { ApiError } from './api.js';
import { fill, h } from './render.js';

/** @type {number | null} */
let updatedAtMs = null;
/** @type {string | null} */
let notice = null;

function byId(/** @type {string} */ id) {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`index.html has no #${id}`);
  return el;
}

function showUpdated() {
  const el = byId('updated');
  el.textContent =
    updatedAtMs === null ? '' : `updated ${Math.max(0, Math.round((Date.now() - updatedAtMs) / 1000))}s ago`;
}

/** Starts the once-a-second refresh of "updated Ns ago". */
export function startClock() {
  setInterval(showUpdated, 1000);
}

/** Records that the shown page's data just arrived; clears a poll failure. */
export function markUpdated() {
  updatedAtMs = Date.now();
  showUpdated();
  byId('poll-banner').hidden = true;
}

/** Says a poll failed while the page keeps showing its last data. @param {unknown} e */
export function pollFailed(e) {
  const el = byId('poll-banner');
  const since = updatedAtMs === null ? '' : ' Showing the last data received.';
  fill(el, `Could not refresh: ${describe(e)}.${since}`);
  el.hidden = false;
}

/** Words for an error: the API's code and message as it sent them. @param {unknown} e */
export function describe(e) {
  if (e instanceof ApiError) return e.status === 0 ? e.message : `${e.message} (${e.code})`;
  return e instanceof Error ? e.message : String(e);
}

/** Shows the action error banner with the API's message. @param {unknown} e */
export function showError(e) {
  const el = byId('error-banner');
  const field =
    e instanceof ApiError && e.field !== undefined
      ? h('span', { class: 'field-name' }, `field: ${e.field}`)
      : null;
  fill(
    el,
    h('span', { class: 'message' }, describe(e)),
    field,
    h('button', { type: 'button', class: 'dismiss', 'aria-label': 'Dismiss error', onclick: hideError }, '×'),
  );
  el.hidden = false;
}

/** Hides the action error banner. */
export function hideError() {
  byId('error-banner').hidden = true;
}

/** Shows a notice ("node cordoned") on this page now. @param {string} text */
export function showNotice(text) {
  const el = byId('notice-banner');
  fill(el, text);
  el.hidden = false;
}

/** Keeps a notice ("workload deleted") to show on the next page. @param {string} text */
export function noticeNext(text) {
  notice = text;
}

/** Resets the frame for a new page: no banners, no age, and any pending notice shown. */
export function resetForPage() {
  updatedAtMs = null;
  showUpdated();
  hideError();
  byId('poll-banner').hidden = true;
  const el = byId('notice-banner');
  el.hidden = notice === null;
  fill(el, notice ?? '');
  notice = null;
}
