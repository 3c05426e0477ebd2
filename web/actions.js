// @ts-check
/**
 * What the admin pages' buttons and forms share: one call per action with the API's refusal shown
 * word for word (and the field it names marked), and a second, explicit click before anything is
 * lost (rather than a browser dialog, which a test or a screen reader handles worse).
 */
import { ApiError, request } from './api.js';
import { h } from './render.js';
import { hideError, showError, showNotice } from './status.js';

/**
 * Calls the API for an action; on a refusal shows the error banner and, when the API names a field
 * that `form` has a control for (`data-field`), marks it. Resolves the answer, or undefined when refused.
 * @param {string} method @param {string} path @param {unknown} [body] @param {HTMLFormElement} [form]
 * @returns {Promise<unknown>}
 */
export async function act(method, path, body, form) {
  hideError();
  for (const el of form?.querySelectorAll('[aria-invalid]') ?? []) el.removeAttribute('aria-invalid');
  try {
    return (await request(method, path, body === undefined ? {} : { body })) ?? null;
  } catch (e) {
    showError(e);
    if (form !== undefined && e instanceof ApiError && e.field !== undefined) {
      // The control for the whole path (`quotas.1.gpu`) when the form has one, else for its head.
      const control =
        form.querySelector(`[data-field="${CSS.escape(e.field)}"]`) ??
        form.querySelector(`[data-field="${CSS.escape(e.field.split('.')[0] ?? '')}"]`);
      control?.setAttribute('aria-invalid', 'true');
    }
    return undefined;
  }
}

/**
 * A button that asks "`question` Yes / Cancel" beside itself before `onConfirm` runs.
 * @param {string} label @param {string} question @param {string} yes @param {() => void} onConfirm
 * @param {{ danger?: boolean, disabled?: boolean }} [opts]
 */
export function confirmButton(label, question, yes, onConfirm, opts = {}) {
  const box = h('span', { class: 'confirm', hidden: true });
  const button = h(
    'button',
    { type: 'button', class: opts.danger === false ? undefined : 'danger', disabled: opts.disabled === true },
    label,
  );
  button.addEventListener('click', () => {
    box.hidden = false;
    box.replaceChildren(
      `${question} `,
      h(
        'button',
        {
          type: 'button',
          class: 'danger',
          onclick: () => {
            box.hidden = true;
            onConfirm();
          },
        },
        yes,
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'quiet',
          onclick: () => {
            box.hidden = true;
          },
        },
        'Cancel',
      ),
    );
  });
  return h('span', { class: 'action' }, button, box);
}

/**
 * A labelled control for the admin forms; `name` is also the API field it answers for.
 * @param {string} id @param {string} label @param {HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement} control
 * @param {string} [help]
 */
export function labelled(id, label, control, help) {
  control.id = id;
  control.setAttribute('data-field', control.name || id);
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    control,
    help === undefined ? null : h('p', { class: 'help' }, help),
  );
}

/**
 * `key=value` pairs separated by commas or new lines, as a record; an entry without `=` is an error
 * naming it.
 * @param {string} text
 * @returns {{ ok: true, value: Record<string, string> } | { ok: false, error: string }}
 */
export function parsePairs(text) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const raw of text.split(/[,\n]/)) {
    const entry = raw.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    if (eq <= 0) return { ok: false, error: `'${entry}' is not key=value` };
    out[entry.slice(0, eq).trim()] = entry.slice(eq + 1).trim();
  }
  return { ok: true, value: out };
}

/** `key=value, ...` of a record, for a form to edit. @param {Record<string, string>} r */
export function pairsText(r) {
  return Object.entries(r)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/**
 * Keeps elements with state (an open confirmation, a half-typed field) across a poll's refill: a
 * render asks `get(key, make)` for each and calls `done()` after; an element whose key the last
 * render did not ask for is let go.
 * @template {Element} E
 */
export function keeper() {
  /** @type {Map<string, E>} */
  let prev = new Map();
  /** @type {Map<string, E>} */
  let next = new Map();
  return {
    /** @param {string} key @param {() => E} make @returns {E} */
    get(key, make) {
      const el = next.get(key) ?? prev.get(key) ?? make();
      next.set(key, el);
      return el;
    },
    done() {
      prev = next;
      next = new Map();
    },
  };
}

/**
 * @typedef {object} CreateForm
 * @property {string} what the form's name for screen readers and tests: "New project"
 * @property {string} id the name field's id
 * @property {string} label the name field's label
 * @property {string} [help]
 * @property {string} [heading] shown over the fields (a card form); none: one inline row
 * @property {Node[]} [extra] more fields after the name
 * @property {string} button
 * @property {string} path where to POST
 * @property {(name: string) => unknown} body the request body, or null to send nothing (a field's error is shown)
 * @property {(name: string) => string} done the notice once created
 * @property {() => void} created
 */

/**
 * A form that creates something by name: POSTs its body, says so, empties the name and calls
 * `created`; a refusal is shown at the field the API names.
 * @param {CreateForm} o
 */
export function createForm(o) {
  const name = h('input', {
    name: 'name',
    type: 'text',
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const fields = [labelled(o.id, o.label, name, o.help), ...(o.extra ?? [])];
  const button = h('button', { type: 'submit', class: 'primary' }, o.button);
  const form =
    o.heading === undefined
      ? h('form', { class: 'inline-form', 'aria-label': o.what }, ...fields, button)
      : h('form', { class: 'card-form', 'aria-label': o.what }, h('h2', {}, o.heading), ...fields, button);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const n = name.value.trim();
    const body = o.body(n);
    if (body === null || (await act('POST', o.path, body, form)) === undefined) return;
    showNotice(o.done(n));
    name.value = '';
    o.created();
  });
  return form;
}
