// @ts-check
/**
 * Edits a project's or department's quotas, one row per node pool: deserved GPUs, limit (empty for
 * none) and over-quota weight. Saving sends the whole set (`PATCH` replaces it, so a pool removed
 * here loses its quota); CPU and memory quotas, which this form does not show, travel unchanged.
 * The API judges the numbers and its refusal is shown with the field it names.
 */
import { h } from './render.js';

/** @typedef {import('./types.js').QuotaView} QuotaView */

/**
 * A quota as `PATCH /projects/:name` and `/departments/:name` take it.
 * @typedef {{ nodePool: string, gpu: number, limit: number, overQuotaWeight: number, cpuMillis?: number, memoryMiB?: number }} QuotaBody
 */

/** A number typed in a field; NaN when it is not one, so the API names the field. @param {string} text */
function num(text) {
  return text.trim() === '' ? Number.NaN : Number(text);
}

/**
 * The quotas the rows of `form` say, in their order.
 * @param {HTMLFormElement} form @param {QuotaView[]} before the quotas shown when the form opened
 * @returns {QuotaBody[]}
 */
export function quotasOf(form, before) {
  return [...form.querySelectorAll('tr[data-quota-row]')].map((row, i) => {
    // Numbered as sent, so the field an API error names (`quotas.1.gpu`) finds its control.
    for (const c of row.querySelectorAll('[name]'))
      c.setAttribute('data-field', `quotas.${i}.${c.getAttribute('name')}`);
    const value = (/** @type {string} */ name) =>
      /** @type {HTMLInputElement | HTMLSelectElement | null} */ (row.querySelector(`[name="${name}"]`))
        ?.value ?? '';
    const nodePool = value('nodePool');
    const limitText = value('limit').trim();
    /** @type {QuotaBody} */
    const q = {
      nodePool,
      gpu: num(value('gpu')),
      limit: limitText === '' ? -1 : num(limitText),
      overQuotaWeight: num(value('overQuotaWeight')),
    };
    const old = before.find((b) => b.nodePool === nodePool);
    if (old?.cpuMillis !== undefined && old.cpuMillis > 0) q.cpuMillis = old.cpuMillis;
    if (old?.memoryMiB !== undefined && old.memoryMiB > 0) q.memoryMiB = old.memoryMiB;
    return q;
  });
}

/**
 * The editor form for `who`'s quotas; `save` resolves true once the API took them.
 * @param {string} who "project vision"
 * @param {QuotaView[]} quotas
 * @param {string[]} pools the node pools to choose from
 * @param {(quotas: QuotaBody[], form: HTMLFormElement) => Promise<boolean>} save
 * @param {() => void} close
 */
export function quotaEditor(who, quotas, pools, save, close) {
  const body = h('tbody');
  const choices = [...new Set([...pools, ...quotas.map((q) => q.nodePool)])].sort();
  /** @param {QuotaView | null} q */
  const row = (q) => {
    const pool = h(
      'select',
      { name: 'nodePool', 'aria-label': 'Node pool' },
      ...choices.map((p) => h('option', { value: p, selected: p === q?.nodePool }, p)),
    );
    const cells = [
      pool,
      h('input', {
        name: 'gpu',
        type: 'number',
        min: 0,
        step: 'any',
        value: q === null ? '0' : String(q.gpu),
        'aria-label': 'Deserved GPUs',
      }),
      h('input', {
        name: 'limit',
        type: 'number',
        min: 0,
        step: 'any',
        placeholder: 'none',
        value: q === null || q.limit < 0 ? '' : String(q.limit),
        'aria-label': 'Limit in GPUs',
      }),
      h('input', {
        name: 'overQuotaWeight',
        type: 'number',
        min: 0,
        step: 'any',
        value: q === null ? '1' : String(q.overQuotaWeight),
        'aria-label': 'Over-quota weight',
      }),
    ];
    const tr = h(
      'tr',
      { 'data-quota-row': '' },
      ...cells.map((c) => h('td', {}, c)),
      h(
        'td',
        {},
        h(
          'button',
          { type: 'button', class: 'quiet', onclick: () => tr.remove(), 'aria-label': 'Remove this pool' },
          'Remove',
        ),
      ),
    );
    return tr;
  };
  body.append(...quotas.map(row));
  const saveBtn = h('button', { type: 'submit', class: 'primary' }, 'Save quotas');
  const form = h(
    'form',
    { class: 'quota-editor', 'aria-label': `Quotas of ${who}` },
    h(
      'table',
      { 'aria-label': 'Quota editor' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Node pool', 'Deserved GPUs', 'Limit (GPUs)', 'Over-quota weight', ''].map((l) =>
            h('th', { scope: 'col' }, l),
          ),
        ),
      ),
      body,
    ),
    h(
      'div',
      { class: 'form-actions' },
      h('button', { type: 'button', onclick: () => body.append(row(null)) }, 'Add a node pool'),
      saveBtn,
      h('button', { type: 'button', class: 'quiet', onclick: close }, 'Cancel'),
    ),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    saveBtn.disabled = true;
    try {
      if (await save(quotasOf(form, quotas), form)) close();
    } finally {
      saveBtn.disabled = false;
    }
  });
  return form;
}
